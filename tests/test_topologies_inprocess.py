"""Masters, workers, pipelines, hubs and sinks in one process over inproc://."""
from __future__ import annotations

from collections import Counter

import pytest

from greenpylm import RemoteError
from greenpylm.clients import Client
from greenpylm.servers import Hub, Master, MuxWorker, Pipeline, Server, Sink, Worker
from helpers import inproc

pytestmark = pytest.mark.timeout(30)


def master(cls=Master, name="master", **kw):
    db = inproc("db")
    return cls(name, inproc("pull"), inproc("pub"), inproc("wpull"), inproc("wpush"), db, **kw), db


class Doubler(Worker):
    def double(self, payload: bytes) -> bytes:
        return payload * 2

    def remember(self, payload: bytes) -> bytes:
        return self.get(payload.decode())

    def keep(self, payload: bytes) -> bytes:
        return self.set(payload, "kept").encode()


class Splitter(MuxWorker):
    def letters(self, payload: bytes):
        for byte in payload:
            yield bytes([byte])

    def nothing(self, payload: bytes):
        return iter(())


class Triple(Master):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gathered = 0
        self.expected = 0

    def scatter(self, message):
        for _ in range(3):
            yield message

    def gather(self, message):
        self.gathered += 1
        if self.gathered == self.expected:
            yield self.change_payload(message, b"final message")
        else:
            yield message


def test_scatter_three_gives_three_n_and_gather_rewrites_exactly_the_last(running):
    server, db = master(Triple)
    server.expected = 30
    running(server)
    running(Doubler("w", db))
    with Client("master", db) as client:
        results = list(client.job("master.double", (b"%d" % i for i in range(10)),
                                  messages=30, timeout=10))
    assert len(results) == 30
    assert results[-1] == b"final message" and results.count(b"final message") == 1
    expected = Counter(b"%d" % i * 2 for i in range(10) for _ in range(3))
    assert sum((expected - Counter(results[:-1])).values()) == 1  # only the last was rewritten


def test_mux_worker_fans_out_and_an_empty_fan_out_drops(running):
    server, db = master()
    running(server)
    running(Splitter("mux", db))
    with Client("master", db) as client:
        assert sorted(client.job("master.letters", [b"abc"], messages=3, timeout=10)) == \
            [b"a", b"b", b"c"]
        assert client.eval("master.nothing", b"x", timeout=10) is None


def test_workers_use_the_masters_cache(running):
    server, db = master()
    running(server)
    running(Doubler("w", db))
    with Client("master", db) as client:
        client.set(b"from the client", "note")
        assert client.eval("master.remember", b"note", timeout=10) == b"from the client"
        assert client.eval("master.keep", b"from the worker", timeout=10) == b"kept"
        assert client.get("kept") == b"from the worker"
        with pytest.raises(RemoteError) as info:
            client.eval("master.remember", b"missing", timeout=10)
        assert info.value.remote_type == "MissingKeyError"


class Upper(Server):
    def up(self, payload: bytes) -> bytes:
        return payload.upper()


class Exclaim(Pipeline):
    def bang(self, payload: bytes):
        return None if payload.startswith(b"SKIP") else payload + b"!"


def test_pipeline_applies_its_step_and_drops_none(running):
    sdb, spub = inproc("sdb"), inproc("spub")
    running(Upper("server", sdb, inproc("spull"), spub, pipelined=True))
    ppub = inproc("ppub")
    pipeline = running(Exclaim("pipeline", inproc("pdb"), spub, ppub, previous="server"))
    assert pipeline.inbound_components["Sub"].subscribed.wait(5)
    with Client("server", sdb, sub_address=ppub) as client:
        results = list(client.job(["server.up", "pipeline.bang"], [b"a", b"skip me", b"c"],
                                  timeout=10))
    assert sorted(results) == [b"A!", b"C!"]


class Tagger(Pipeline):
    def tag(self, payload: bytes) -> bytes:
        return payload + b"@" + self.name.encode()


class Merge(Sink):
    def merge(self, payload: bytes) -> bytes:
        return payload


def test_sink_merges_two_streams_of_a_tee(running):
    sdb, spub = inproc("sdb"), inproc("spub")
    running(Upper("server", sdb, inproc("spull"), spub, pipelined=True))
    lpub, rpub = inproc("lpub"), inproc("rpub")
    left = running(Tagger("left", inproc("ldb"), spub, lpub, previous="server", to_client=False))
    right = running(Tagger("right", inproc("rdb"), spub, rpub, previous="server",
                           to_client=False))
    kpub = inproc("kpub")
    sink = running(Merge("sink", inproc("kdb"), [lpub, rpub], kpub, ["left", "right"]))
    for part in (left.inbound_components["Sub"], right.inbound_components["Sub"],
                 *sink.inbound_components.values()):
        assert part.subscribed.wait(5)
    # both branches run the step's method 'tag' (subscribers do not check the server name)
    with Client("server", sdb, sub_address=kpub) as client:
        results = list(client.job(["server.up", "left.tag", "sink.merge"],
                                  [b"%d" % i for i in range(50)], messages=100, timeout=10))
    assert sorted(results) == sorted(b"%d@%s" % (i, side) for i in range(50)
                                     for side in (b"left", b"right"))


def test_hub_after_a_server_delivers_every_result(running):
    sdb, spub = inproc("sdb"), inproc("spub")
    running(Upper("server", sdb, inproc("spull"), spub, pipelined=True))
    hdb, hpub = inproc("hdb"), inproc("hpub")
    hub = running(Hub("hub", spub, hpub, inproc("hwpull"), inproc("hwpush"), hdb, "server"))
    running(Doubler("w", hdb))
    assert hub.inbound_components["Sub"].subscribed.wait(5)
    with Client("server", sdb, sub_address=hpub) as client:
        results = list(client.job(["server.up", "hub.double"], [b"ab", b"cd"], timeout=10))
    assert sorted(results) == [b"ABAB", b"CDCD"]


class Napper(Worker):
    def nap(self, payload: bytes) -> bytes:
        """Sleeps `payload` milliseconds (0: returns without yielding)."""
        if int(payload):
            import gevent
            gevent.sleep(int(payload) / 1000)  # yields: other messages run meanwhile
        return payload


class Counting(Master):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers = 0

    def gather(self, message):
        self.answers += 1
        yield message


def test_a_worker_running_eight_at_once_answers_each_message_exactly_once(running):
    """Results and the ticket they finish travel together, whatever the other
    greenlets of the worker do meanwhile: the master gets one answer per
    message (no late DROPPED besides a result, no result without its ticket)."""
    server, db = master(Counting)
    running(server)
    running(Napper("napper", db, concurrency=8))
    payloads = [b"%d" % (i % 11) for i in range(3000)]
    with Client("master", db) as client:
        results = list(client.job("master.nap", payloads, timeout=30))
    assert Counter(results) == Counter(payloads)
    link = server.outbound_components["WorkerPush"]
    assert server.stats["duplicates"] == 0 and not link.held
    assert server.answers == 3000


def test_a_result_that_finishes_while_another_greenlet_sent_a_burst_is_answered_once(running):
    """Concurrency 2, one WORK of three: the first message returns at once, the
    second naps while the third finishes and sends the burst; when the second
    wakes, the worker must not take it for a message that gave no result."""
    server, db = master(Counting)
    running(server)
    running(Napper("napper", db, concurrency=2))
    with Client("master", db) as client:
        results = list(client.job("master.nap", [b"0", b"50", b"1"], timeout=10))
    assert sorted(results) == [b"0", b"1", b"50"]
    assert server.answers == 3
