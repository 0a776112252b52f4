"""pylm's API pieces that its programs lean on, checked in one process over inproc://."""
from __future__ import annotations

import logging

import gevent
import pytest
import zmq.green as zmq
from greenpylm.log import logger as loguru_logger

from greenpylm import RemoteError
from greenpylm.chained import Client as ChainClient, LastServer, LoopClient, Server as ChainServer
from greenpylm.clients import Client
from greenpylm.parts.core import Router, zmq_context
from greenpylm.parts.services import CacheService
from greenpylm.persistence.kv import DictDB
from greenpylm.servers import Pipeline, Server
from greenpylm.wire import decode
from greenpylm.wire.transport import recv_frames
from helpers import free_port, inproc, python_code

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def records():
    """The messages greenpylm logs meanwhile, as (level, server, text)."""
    seen: list[tuple[str, str, str]] = []
    sink = loguru_logger.add(
        lambda m: seen.append((m.record["level"].name, m.record["extra"].get("server"),
                               m.record["message"])),
        level=0, filter=lambda r: r["extra"].get("greenpylm"))
    yield seen
    loguru_logger.remove(sink)


class Chatty(Server):
    def foo(self, payload: bytes) -> bytes:
        self.logger.info("Processed %d messages of {kind}", 10)
        self.logger.warning("Got a message")
        try:
            raise KeyError("k")
        except KeyError:
            self.logger.exception("caught")
        return payload


def three(tag: str) -> tuple[str, str, str]:
    return inproc(f"{tag}-db"), inproc(f"{tag}-pull"), inproc(f"{tag}-pub")


def test_self_logger_is_a_stdlib_logger_writing_through_loguru(running, records):
    db, pull, pub = three("chatty")
    running(Chatty("chatty", db, pull, pub))
    with Client("chatty", db) as client:
        assert client.eval("chatty.foo", b"x", timeout=5) == b"x"
    mine = [r for r in records if r[1] == "chatty"]
    assert ("INFO", "chatty", "Processed 10 messages of {kind}") in mine
    assert ("WARNING", "chatty", "Got a message") in mine
    assert ("ERROR", "chatty", "caught") in mine


QUIET_SERVER = """
import logging
from greenpylm.clients import Client
from greenpylm.servers import Server

class Quiet(Server):
    def foo(self, payload):
        self.logger.info("an info line")
        self.logger.warning("a warning line")
        return payload

server = Quiet("quiet", "inproc://db", "inproc://pull", "inproc://pub",
               log_level=logging.WARNING)
server.spawn()
with Client("quiet", "inproc://db") as client:
    print("result", client.eval("quiet.foo", b"x", timeout=5))
server.stop()
"""


def test_log_level_filters_what_self_logger_writes():
    proc = python_code(QUIET_SERVER)
    out = proc.drain(30)
    assert "result b'x'" in out and "a warning line" in out
    assert "an info line" not in out


class Counting(Server):
    """pylm's logging example in short: a method that yields mid-way."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inside = 0
        self.most = 0

    def foo(self, payload: bytes) -> bytes:
        self.inside += 1
        self.most = max(self.most, self.inside)
        gevent.sleep(0.01)  # as self.get(...) would: other greenlets run meanwhile
        self.inside -= 1
        return payload


@pytest.mark.parametrize("concurrency, most", [(None, 1), (4, 4)])
def test_methods_run_one_at_a_time_unless_asked(running, concurrency, most):
    db, pull, pub = three("count")
    extra = {} if concurrency is None else {"concurrency": concurrency}
    server = running(Counting("count", db, pull, pub, **extra))
    with Client("count", db) as client:
        results = list(client.job("count.foo", [b"%d" % i for i in range(20)], timeout=10))
    expected = [b"%d" % i for i in range(20)]
    assert (results if concurrency is None else sorted(results)) == (
        expected if concurrency is None else sorted(expected))
    assert server.most == most


class Reading(Server):
    """Reads pylm's `self.message` after other greenlets ran steps meanwhile."""

    def foo(self, payload: bytes) -> bytes:
        gevent.sleep(0.001 * (int(payload) % 4))  # the steps finish out of order
        message = self.message
        return b"%s at stage %d" % (message.payload, message.stage)


def test_each_step_reads_its_own_message_however_many_run_at_once(running):
    db, pull, pub = three("reading")
    server = running(Reading("reading", db, pull, pub, concurrency=8))
    with Client("reading", db) as client:
        pairs = list(client.job("reading.foo", [b"%d" % i for i in range(40)], timeout=10,
                                with_input=True))
    assert sorted(pairs) == sorted((b"%d" % i, b"%d at stage 0" % i) for i in range(40))
    assert server.message is None  # outside a step there is none


class Step(ChainServer):
    def foo(self, payload: bytes) -> bytes:
        return b"foo(" + payload + b")"

    def bar(self, payload: bytes) -> bytes:
        return b"bar(" + payload + b")"


class Last(LastServer):
    def baz(self, payload: bytes) -> bytes:
        return b"baz(" + payload + b")"


@pytest.mark.parametrize("first_call, second_call", [("step2.bar", "last.baz"), ("bar", "baz")])
def test_chained_roles_and_next_call_forms(running, first_call, second_call):
    pulls = [inproc("chain-pull") for _ in range(3)]
    back = inproc("chain-back")
    running(Step("step1", pulls[0], pulls[1], first_call, db_address=inproc("chain-db")))
    running(Step("step2", pulls[1], pulls[2], second_call))
    running(Last("last", pulls[2], back))
    # pylm's roles: the client pushes to the first pull and reads the last server's push
    with LoopClient(push_address=back, pull_address=pulls[0], server_name="step1") as client:
        assert list(client.job("foo", [b"x"], messages=1, timeout=5)) == [b"baz(bar(foo(x)))"]
        assert client.eval("step1.foo", b"y", timeout=5) == b"baz(bar(foo(y)))"


def test_the_chained_client_only_pushes_jobs_in(running):
    pull, back = inproc("push-only"), inproc("push-only-back")
    running(Last("last", pull, back))
    results = zmq.Context.instance().socket(zmq.PULL)
    results.connect(back)
    with ChainClient(pull, server_name="last") as client:
        assert client.job("baz", iter([b"1", b"2", b"3"]), messages=2) == 2
    got = []
    while len(got) < 2:
        got += [m.payload for m in decode(recv_frames(results))]
    results.close()
    assert sorted(got) == [b"baz(1)", b"baz(2)"]


def test_chained_modules_have_pylm_names():
    import greenpylm.chained.client as first_name
    import greenpylm.chained.clients as second_name
    assert first_name.LoopClient is second_name.LoopClient is LoopClient
    assert second_name.Client is ChainClient


class EvenOdd(Server):
    """pylm's stream example: topics from handle_stream; it fails on the third message."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counter = 0

    def foo(self, payload: bytes) -> bytes:
        return payload

    def handle_stream(self, message):
        self.counter += 1
        if message.payload == b"boom":
            raise RuntimeError("no topic for this one")
        message.stage += 1
        return ("even" if self.counter % 2 else "odd"), message


class Close(Pipeline):
    def foo(self, payload: bytes) -> bytes:
        return b"closed " + payload


def test_an_error_in_handle_stream_reaches_a_client_at_the_end_of_the_pipeline(running):
    db, pull, pub = three("stream")
    last_db, last_pub = inproc("close-db"), inproc("close-pub")
    running(EvenOdd("my_server", db, pull, pub, pipelined=True))
    close = running(Close("my_pipeline", last_db, pub, last_pub, previous="even"))
    assert close.inbound_components["Sub"].subscribed.wait(5)
    with Client("my_server", db, sub_address=last_pub) as client:
        assert client.eval(["my_server.foo", "my_pipeline.foo"], b"a", timeout=5) == b"closed a"
        with pytest.raises(RemoteError) as info:
            client.eval(["my_server.foo", "my_pipeline.foo"], b"boom", timeout=5)
    assert info.value.remote_type == "RuntimeError"
    assert "no topic for this one" in info.value.remote_message


def test_a_dictdb_given_as_cache_presets_the_servers_cache(running):
    db = DictDB()
    db.set("name", b"preset")
    db.set("greeting", b"hello")
    assert db.get("missing") is None
    from greenpylm.parts.servers import ServerTemplate
    server = ServerTemplate()
    address = inproc("dictdb")
    server.register_bypass(CacheService, "Cache", address, cache=db)
    running(server)
    assert server.name == "preset"
    with Client("preset", address) as client:
        assert client.get("greeting", timeout=5) == b"hello"


def test_a_part_starts_on_its_own_and_router_takes_pylm_parameters():
    Router(inbound_address="inproc://in", outbound_address="inproc://out", logger=None,
           cache=None, messages=10)
    assert isinstance(zmq_context, zmq.Context)
    address = f"tcp://127.0.0.1:{free_port()}"
    part = CacheService("Cache", address)
    runner = gevent.spawn(part.start)
    from greenpylm.cache_client import CacheClient
    cache = CacheClient("alone", address, zmq.Context.instance(), "me")
    try:
        assert cache.set(b"v", "k", timeout=5) == "k"
        assert cache.get("k", timeout=5) == b"v"
    finally:
        cache.close()
        runner.kill()
    assert part.socket is None  # closed when its runner ended


def test_standalone_has_pylm_2016_signatures(running):
    from greenpylm import standalone
    db, pull, pub = three("standalone")
    running(type("Old", (standalone.Server,), {"foo": lambda self, p: b"old " + p})(
        "old", db, pull, pub, log_address="tcp://127.0.0.1:1", log_level=logging.INFO))
    with standalone.Client("old", db, pipeline="session-1") as client:
        assert client.eval("old.foo", b"x", timeout=5) == b"old x"
        assert client.session == "session-1"


def test_remote_request_handler_answers_an_http_connection(running):
    from wsgiref.simple_server import WSGIRequestHandler

    from gevent import monkey

    from greenpylm.parts.connections import HttpConnection
    from greenpylm.parts.servers import ServerTemplate
    from greenpylm.parts.services import PubService, PullService
    from greenpylm.remote.server import DebugServer, RequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class Handler(RequestHandler):
        def foo(self, payload):
            return payload + b" processed online"

        def fail(self, payload):
            raise ValueError("online failure")

    port = free_port()
    web = DebugServer("127.0.0.1", port, Handler)
    web.httpd.RequestHandlerClass = Quiet
    thread = monkey.get_original("threading", "Thread")(target=web.serve_forever, daemon=True)
    thread.start()
    db, pull, pub = three("http-master")
    master = ServerTemplate()
    master.register_inbound(PullService, "Pull", pull, route="HttpConnection")
    master.register_outbound(HttpConnection, "HttpConnection", f"http://localhost:{port}",
                             route="Pub", max_workers=1)
    master.register_outbound(PubService, "Pub", pub)
    master.register_bypass(CacheService, "Cache", db)
    master.preset_cache(name="server", db_address=db, pull_address=pull, pub_address=pub)
    running(master)
    try:
        with Client("server", db) as client:
            assert list(client.job("server.foo", [b"a"] * 3, messages=3, timeout=10)) == \
                [b"a processed online"] * 3
            with pytest.raises(RemoteError) as info:
                client.eval("server.fail", b"a", timeout=10)
            assert info.value.remote_type == "ValueError"
            with pytest.raises(RemoteError) as info:
                client.eval("server.nothing", b"a", timeout=10)
            assert info.value.remote_type == "UnknownMethod"
    finally:
        web.httpd.shutdown()
        web.httpd.server_close()
        thread.join(5)
    assert master.outbound_components["HttpConnection"].concurrency == 1  # max_workers
