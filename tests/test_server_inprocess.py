"""Server behaviours checked in one process over inproc:// (one hub, no threads)."""
from __future__ import annotations

import threading

import pytest
import zmq.green as zmq

from greenpylm.clients import Client
from greenpylm.servers import Server
from greenpylm.wire import Message, decode, encode
from greenpylm.wire.frames import TAG_WELCOME
from greenpylm.wire.transport import recv_frames, send_frames
from helpers import free_port

pytestmark = pytest.mark.timeout(30)


class Upper(Server):
    def up(self, payload: bytes) -> bytes:
        return payload.upper()


def addresses(tag: str) -> tuple[str, str, str]:
    n = free_port()
    return tuple(f"inproc://{tag}-{part}-{n}" for part in ("db", "pull", "pub"))


def test_messages_limit_stops_the_server_after_that_many():
    db, pull, pub = addresses("limit")
    server = Upper("limited", db, pull, pub, messages=3)
    runner = server.spawn()
    with Client("limited", db) as client:
        assert list(client.job("limited.up", [b"a", b"b", b"c"], timeout=5)) != []
    assert runner.join(5) is None and runner.dead and not server.running


def test_pipelined_server_publishes_under_its_name_at_the_next_stage():
    db, pull, pub = addresses("piped")
    server = Upper("first", db, pull, pub, pipelined=True)
    server.spawn()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"first")
    sub.connect(pub)
    assert recv_frames(sub) == [b"first", TAG_WELCOME]
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(pull)
    send_frames(push, encode([Message("first.up second.up", b"abc", client="someone")]))
    frames = recv_frames(sub)
    [message] = decode(frames[1:])
    assert frames[0] == b"first"
    assert (message.payload, message.stage, message.function) == (b"ABC", 1, "first.up second.up")
    sub.close(0)
    push.close(0)
    server.stop()


def test_server_and_client_share_one_hub_without_threads():
    db, pull, pub = addresses("hub")
    server = Upper("hub", db, pull, pub)
    server.spawn()
    before = set(threading.enumerate())  # other tests' helper threads may still be ending
    with Client("hub", db) as client:
        results = client.job("hub.up", (b"x%d" % i for i in range(5000)), timeout=10)
        assert sum(1 for _ in results) == 5000
        assert set(threading.enumerate()) <= before
    server.stop()


def test_gevent_spawn_of_start_runs_a_server_inside_an_app():
    import gevent

    db, pull, pub = addresses("spawned")
    server = Upper("spawned", db, pull, pub)
    greenlet = gevent.spawn(server.start)
    with Client("spawned", db) as client:
        assert client.eval("spawned.up", b"inside", timeout=5) == b"INSIDE"
    server.stop()
    assert greenlet.join(5) is None and greenlet.dead and not server.running
