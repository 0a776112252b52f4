"""Server behaviours checked in one process over inproc:// (one hub, no threads)."""
from __future__ import annotations

import threading

import gevent
import gevent.event
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
    assert recv_frames(sub)[:2] == [b"first", TAG_WELCOME]
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
    db, pull, pub = addresses("spawned")
    server = Upper("spawned", db, pull, pub)
    greenlet = gevent.spawn(server.start)
    with Client("spawned", db) as client:
        assert client.eval("spawned.up", b"inside", timeout=5) == b"INSIDE"
    server.stop()
    assert greenlet.join(5) is None and greenlet.dead and not server.running


class Napper(Server):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.napping = gevent.event.Event()  # set once a nap longer than 0 starts
        self.woken: list[bytes] = []  # the payloads of the naps over, in order

    def nap(self, payload: bytes) -> bytes:
        """Sleep for the seconds the payload names (gevent: other greenlets run)."""
        if float(payload):
            self.napping.set()
        gevent.sleep(float(payload))
        self.woken.append(payload)
        return payload


def test_greenlets_sharing_a_client_take_turns_reading_its_replies():
    """The first caller reads for everybody; its reply comes first, so when it
    leaves the others must be handed the reading, or they would never finish.
    A reader that times out hands it over too."""
    from greenpylm.wire import CallTimeout

    db, pull, pub = addresses("turns")
    server = Napper("turns", db, pull, pub, concurrency=64)  # the calls overlap
    server.spawn()
    with Client("turns", db) as client:
        client.eval("turns.nap", b"0", timeout=5)  # connected and welcomed
        done = []

        def call(delay: bytes, timeout: float | None = None) -> bytes:
            try:
                result = client.eval("turns.nap", delay, timeout=timeout)
            except CallTimeout:
                result = b"timed out"
            done.append(delay)
            return result

        first = gevent.spawn(call, b"0")
        late = gevent.spawn(call, b"5", 0.1)  # reads while it waits, gives up at 0.1 s
        others = [gevent.spawn(call, b"0.%d" % (i % 3 + 2)) for i in range(30)]
        assert gevent.joinall([first, late, *others], timeout=10) is not None
        assert all(g.dead for g in [first, late, *others]), "a caller was left waiting"
        assert first.value == b"0" and done[0] == b"0"
        assert late.value == b"timed out"
        assert [g.value for g in others] == [b"0.%d" % (i % 3 + 2) for i in range(30)]
    server.stop()


def test_a_handler_busy_with_what_it_read_lets_another_read_the_next():
    """The handler that reads a message handles it itself; while that message
    waits on I/O another handler must be reading, so a later call overtakes it."""
    db, pull, pub = addresses("overtake")
    server = Napper("overtake", db, pull, pub, concurrency=4)
    server.spawn()
    with Client("overtake", db) as slow_client, Client("overtake", db) as quick_client:
        slow = gevent.spawn(slow_client.eval, "overtake.nap", b"2", timeout=5)
        assert server.napping.wait(5)  # the slow call is being handled
        assert quick_client.eval("overtake.nap", b"0.01", timeout=5) == b"0.01"
        assert server.woken == [b"0.01"], "the quick call waited for the slow one"
        assert slow.get(timeout=5) == b"2"
    server.stop()
