"""Shipped callables through Server, Pipeline and Master in one process."""
from __future__ import annotations

import pytest

from greenpylm import RemoteError
from greenpylm.chained.client import LoopClient
from greenpylm.chained.servers import LastServer, Server as ChainServer
from greenpylm.clients import Client
from greenpylm.servers import Master, Pipeline, Server, Worker
from helpers import inproc

pytestmark = pytest.mark.timeout(30)
KEY = "in-process key"


def test_client_pipeline_entries_may_be_callables(running):
    sdb, spub = inproc("db"), inproc("pub")
    running(Server("first", sdb, inproc("pull"), spub, pipelined=True, key=KEY))
    ppub = inproc("ppub")
    pipeline = running(Pipeline("second", inproc("pdb"), spub, ppub, previous="first", key=KEY))
    assert pipeline.inbound_components["Sub"].subscribed.wait(5)
    with Client("first", sdb, sub_address=ppub, key=KEY) as client:
        scale = 3
        steps = [("first", lambda d: {**d, "n": d["n"] * scale}), ("second", lambda d: d["n"])]
        assert client.eval(steps, {"n": 2}, timeout=10) == 6
        assert sorted(client.job(steps, ({"n": i} for i in range(100)), timeout=10)) == \
            [3 * i for i in range(100)]
        # a named method and a callable in one pipeline; bytes stay bytes
        assert client.eval(["first.echo", ("second", lambda b: b + b"!")], b"hi",
                           timeout=10) == b"hi!"


def test_workers_apply_shipped_callables(running):
    db = inproc("db")
    running(Master("m", inproc("pull"), inproc("pub"), inproc("wpull"), inproc("wpush"), db))
    running(Worker("w", db, key=KEY))
    with Client("m", db, key=KEY) as client:
        assert client.eval([("m", lambda x: sum(x))], [1, 2, 3], timeout=10) == 6


def chain(running):
    pulls = [inproc("pull") for _ in range(3)]
    back = inproc("back")
    running(ChainServer("a", pulls[0], pulls[1], key=KEY))
    running(ChainServer("b", pulls[1], pulls[2], key=KEY))
    running(LastServer("c", pulls[2], back, key=KEY))
    return LoopClient(back, pulls[0], key=KEY)


def test_generators_fan_out_and_none_drops(running):
    with chain(running) as client:
        steps = [lambda n: (i for i in range(n)), lambda i: None if i % 2 else i, lambda i: i * 10]
        assert sorted(client.job(steps, [4, 3], messages=4, timeout=10)) == [0, 0, 20, 20]
        assert client.eval(steps[1:] + [lambda i: i], 1, timeout=10) is None


def test_results_come_back_in_order_or_paired_with_inputs(running):
    with chain(running) as client:
        steps = [lambda x: x, lambda x: x + 1, lambda x: x * 2]
        assert list(client.job(steps, range(500), ordered=True, timeout=10)) == \
            [(x + 1) * 2 for x in range(500)]
        pairs = list(client.job(steps, range(50), with_input=True, timeout=10))
        assert all(result == (x + 1) * 2 for x, result in pairs) and len(pairs) == 50


def test_pylm_form_uses_next_call(running):
    class One(ChainServer):
        def foo(self, p):
            return p + b" foo"

    class Two(ChainServer):
        def bar(self, p):
            return p + b" bar"

    class Three(LastServer):
        def baz(self, p):
            return p + b" baz"

    pulls = [inproc("pull") for _ in range(3)]
    back = inproc("back")
    running(One("one", pulls[0], pulls[1], "bar"))
    running(Two("two", pulls[1], pulls[2], "baz"))
    running(Three("three", pulls[2], back))
    with LoopClient(back, pulls[0], server_name="one") as client:
        assert list(client.job("foo", [b"x"], timeout=10)) == [b"x foo bar baz"]
        with pytest.raises(RemoteError, match="UnknownMethod"):
            client.eval("nope", b"x", timeout=10)


def test_a_server_never_vouches_for_what_it_passes_on(running):
    import pickle

    import zmq.green as zmq

    from greenpylm.wire import Message, decode, encode
    from greenpylm.wire.frames import TAG_WELCOME
    from greenpylm.wire.transport import recv_frames, send_frames

    db, pull, pub = inproc("db"), inproc("pull"), inproc("pub")
    running(Server("s", db, pull, pub, key=KEY))
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"someone")
    sub.connect(pub)
    assert recv_frames(sub)[:2] == [b"someone", TAG_WELCOME]
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(pull)
    smuggled = Message("s.echo", pickle.dumps({"would": "unpickle"}), client="someone",
                       dropped=True, pickled=True)  # unsigned: nobody checked it
    send_frames(push, encode([smuggled]))
    [out] = decode(recv_frames(sub)[1:])
    assert out.dropped and out.payload == b"" and not out.pickled and out.signature == b""
    push.close(0)
    sub.close(0)
