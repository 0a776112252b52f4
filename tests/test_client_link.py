"""The client link: each client its own lane on the server's cache ROUTER.

Isolation (nobody reads or forges another client's replies or welcomes),
per-client backpressure (a client that stops reading costs the others
nothing and the server a bounded amount), and the version byte.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import time

import gevent
import pytest
import zmq
import zmq.green as gzmq

from greenpylm import ProtocolError
from greenpylm.clients import Client
from greenpylm.parts.client_link import LANE_BYTES
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import (CacheService, PubService, PullService, WorkerPullService,
                                      WorkerPushService)
from greenpylm.servers import Worker
from greenpylm.wire import Message, decode, encode
from greenpylm.wire.frames import MAGIC, TAG_BATCH, TAG_WELCOME, VERSION
from greenpylm.wire.message import new_id
from helpers import Proc, free_port, python_code, tcp

pytestmark = pytest.mark.timeout(180)
MB = 1024 * 1024


def start(procs, role="server", name="s"):
    addresses = [tcp(free_port()) for _ in range(3)]
    server = Proc(["tests/servers_for_tests.py", role, name, *addresses])
    procs.append(server)
    server.wait_for("started")
    return server, addresses


def rss(proc: Proc) -> int:
    """The resident memory of a process, in bytes."""
    with open(f"/proc/{proc.popen.pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def stats(db: str) -> dict:
    with Client("s", db) as client:
        return json.loads(client.cache_client.request("stats", "", timeout=10))


def until(condition, timeout: float, what: str) -> None:
    """Wait (cooperatively) until `condition()` holds; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        gevent.sleep(0.05)


def eval_latencies(client: Client, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        assert client.eval("s.foo", b"%d" % i, timeout=10) == b"you sent me %d" % i
        out.append(time.perf_counter() - start)
    return out


def test_a_client_that_stops_reading_costs_the_others_nothing(procs):
    server, (db, _, _) = start(procs)
    with Client("s", db) as b:
        eval_latencies(b, 200)  # warm up
        alone = statistics.median(eval_latencies(b, 1000))
        idle = rss(server)
        peak = idle
        n = 200_000
        with Client("s", db, window=n) as a:
            began = time.monotonic()
            results = a.job("s.foo", (b"%d" % i for i in range(n)), timeout=60)
            # the first 256 messages tell the call how big results are (calls.py
            # FIRST_GUESS); the next result comes after every message is sent;
            # then A reads nothing
            first = [next(results) for _ in range(257)]

            def processed() -> bool:
                nonlocal peak
                peak = max(peak, rss(server))
                figures = stats(db)
                # everything in is out, but this stats request (counted in, not yet out)
                return figures["messages_in"] >= n and \
                    figures["messages_out"] >= figures["messages_in"] - 1

            until(processed, 60, "the server to run all of A's job")
            during = eval_latencies(b, 1000)
            peak = max(peak, rss(server))
            assert statistics.median(during) < 2 * alone, (statistics.median(during), alone)
            gevent.sleep(max(0.0, 10 - (time.monotonic() - began)))  # A's pause: 10 s
            rest = list(results)
        peak = max(peak, rss(server))
    answers = sorted([*first, *rest])
    assert answers == sorted(b"you sent me %d" % i for i in range(n))  # each once
    assert peak - idle < 100 * MB, (peak - idle) / MB


def test_a_subscriber_that_never_reads_stalls_nobody(procs):
    server, (db, _, pub) = start(procs)
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1)
    sub.connect(pub)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        with Client("s", db) as client:
            for i in range(30_000):
                assert client.eval("s.foo", b"%d" % i, timeout=10) == b"you sent me %d" % i
        with Client("s", db) as newcomer:
            assert newcomer.eval("s.foo", b"new", timeout=10) == b"you sent me new"
    finally:
        sub.close(0)
        context.term()
    assert server.alive()


def raw(context, kind: int, address: str, subscribe: bool = False):
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(address)
    if subscribe:
        socket.setsockopt(zmq.SUBSCRIBE, b"")
    return socket


def received(socket) -> list[list[bytes]]:
    out = []
    while socket.poll(0):
        out.append(socket.recv_multipart())
    return out


def test_no_raw_socket_on_any_bound_address_reads_another_clients_replies(procs):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush])
    procs.append(master)
    master.wait_for("started")
    procs.append(Proc(["tests/servers_for_tests.py", "worker", "w", db]))
    master.wait_for("worker w joined")
    context = zmq.Context()
    listeners = {
        "SUB on the publisher": raw(context, zmq.SUB, pub, subscribe=True),
        "DEALER on the cache and client link": raw(context, zmq.DEALER, db),
        "DEALER on the cache that says hello": raw(context, zmq.DEALER, db),
        "DEALER on the worker link": raw(context, zmq.DEALER, wpush),
        "PULL on the pull service": raw(context, zmq.PULL, pull),
        "PULL on the worker results": raw(context, zmq.PULL, wpull),
    }
    listeners["DEALER on the cache that says hello"].send(b"")
    try:
        with Client("m", db) as victim:
            secret = b"secret-%d"
            results = list(victim.job("m.work", (secret % i for i in range(500)), timeout=20))
            assert len(results) == 500
            assert victim.eval("m.work", b"secret-eval", timeout=10) == b"secret-eval|w"
        for what, socket in listeners.items():
            for frames in received(socket):
                assert not any(b"secret" in frame for frame in frames), what
                assert TAG_WELCOME in frames, (what, frames)  # a welcome is all anyone gets
    finally:
        for socket in listeners.values():
            socket.close(0)
        context.term()


def runs_of(server: Proc, inputs: list[bytes]) -> dict[bytes, int]:
    """How many times the server ran each input (up to its run of ``v-after``)."""
    server.wait_for("ran v-after ", timeout=20)
    counts = {i: 0 for i in inputs}
    for line in server.lines:
        if " ran " in line:
            payload = line.split(" ran ", 1)[1].rsplit(" for ", 1)[0].encode()
            if payload in counts:
                counts[payload] += 1
    return counts


@pytest.mark.parametrize("lane", [True, False], ids=["lane", "subscription"])
def test_forged_replies_and_welcomes_reach_no_victim(procs, lane):
    """An outsider who knows the victim's ids forges replies and welcomes on every
    bound socket; the victim's job returns only its own results, each input runs
    once (no resend storm). A client that takes its results from a publisher
    (pylm's way, for pipelines) is only spared the forged welcomes: a reply the
    server makes for a forged request on its PULL is published to the victim's
    topic (keys and CURVE keep outsiders off the sockets: docs/security.md)."""
    server, (db, pull, pub) = start(procs, role="recording")
    context = gzmq.Context.instance()
    push = raw(context, zmq.PUSH, pull)
    dealer = raw(context, zmq.DEALER, db)
    xsub = raw(context, zmq.XSUB, pub)
    inputs = [b"v-%d" % i for i in range(150)]
    options = {} if lane else {"sub_address": pub}  # pylm's way: results on the publisher
    try:
        with Client("s", db, **options) as victim:
            assert victim.eval("s.nap", b"v-warm", timeout=10) == b"v-warm"
            line = server.wait_for("ran v-warm for ")
            client_id = line.rsplit(" for ", 1)[1]
            # the ids the job's messages will have (this process's ids count up)
            last = new_id()
            ids = [last[:8] + (int.from_bytes(last[8:], "big") + k).to_bytes(8, "big")
                   for k in range(1, len(inputs) + 1)]
            stop = []

            def attack() -> None:
                while not stop:
                    # replies under the victim's ids, made by the server itself
                    forged = [Message("s.echo", b"FORGED", client=client_id,
                                      pipeline=client_id, id=id) for id in ids]
                    if lane:
                        push.send_multipart(encode(forged))
                    dealer.send_multipart(encode(forged))
                    dealer.send(b"")  # a hello: a welcome, for us
                    # a subscription to the victim's topic: the publisher welcomes it again
                    xsub.send(b"\x01" + client_id.encode())
                    xsub.send(b"\x00" + client_id.encode())
                    gevent.sleep(0.05)

            attacker = gevent.spawn(attack)
            try:
                results = list(victim.job("s.nap", inputs, timeout=20))
            finally:
                stop.append(True)
                attacker.join(5)
            # on the same connection, after whatever the victim sent again
            assert victim.eval("s.nap", b"v-after", timeout=10) == b"v-after"
        assert sorted(results) == sorted(inputs)
        assert b"FORGED" not in results
        runs = runs_of(server, inputs)
        assert set(runs.values()) == {1}, {k: v for k, v in runs.items() if v != 1}
    finally:
        for socket in (push, dealer, xsub):
            socket.close(0)


def test_a_template_master_from_pylms_parts_serves_eval_and_job(running):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    server = ServerTemplate("hand")
    server.register_inbound(PullService, "Pull", pull, route="WorkerPush")
    server.register_inbound(WorkerPullService, "WorkerPull", wpull, route="Pub")
    server.register_outbound(WorkerPushService, "WorkerPush", wpush)
    server.register_outbound(PubService, "Pub", pub)
    server.register_bypass(CacheService, "Cache", db)
    server.preset_cache(name="hand", db_address=db, pull_address=pull, pub_address=pub,
                        worker_pull_address=wpull, worker_push_address=wpush)

    class Doubler(Worker):
        def double(self, payload: bytes) -> bytes:
            return payload * 2

    running(server)
    running(Doubler("d", db))
    with Client("hand", db) as client:
        assert client.eval("hand.double", b"ab", timeout=10) == b"abab"
        assert sorted(client.job("hand.double", [b"x", b"y"], timeout=10)) == [b"xx", b"yy"]
        assert client._topic  # no client link here: pylm's PUSH and SUB


def test_a_client_that_never_reads_is_bounded_and_freed_once_gone(procs):
    server, (db, _, _) = start(procs)
    hog = python_code(f"""
import sys, zmq
socket = zmq.Context().socket(zmq.DEALER)
socket.setsockopt(zmq.RCVHWM, 1)
socket.setsockopt(zmq.SNDHWM, 0)
socket.connect({db!r})
sys.path.insert(0, "tests")
from greenpylm.wire import Message, encode
socket.send(b"")
for i in range(2000):  # 2000 x 10 x 40 KiB: 800 MB of answers, never read
    socket.send_multipart(encode([Message("s.echo", bytes(40960)) for _ in range(10)]))
print("sent", flush=True)
import time
time.sleep(600)
""")
    procs.append(hog)
    idle = rss(server)
    hog.wait_for("sent", timeout=60)
    with Client("s", db) as other:
        until(lambda: stats(db)["held_for_clients"] > 0, 60, "the hog's lane to fill")
        latencies = eval_latencies(other, 300)
        assert statistics.median(latencies) < 0.05
    figures = stats(db)
    assert figures["held_for_clients"] * 40960 <= LANE_BYTES + 256 * 40960, figures
    assert rss(server) - idle < 100 * MB, (rss(server) - idle) / MB
    os.kill(hog.popen.pid, signal.SIGSTOP)  # silent: zmq's heartbeats find it gone
    server.wait_for("a client is gone: freed", timeout=30)
    assert stats(db)["held_for_clients"] == 0
    os.kill(hog.popen.pid, signal.SIGKILL)


def test_a_peer_of_another_protocol_version_is_told_so(procs):
    server, (db, _, _) = start(procs)
    context = zmq.Context()
    old = raw(context, zmq.DEALER, db)
    try:
        request = encode([Message("s.get", b"", cache="name")])
        request[0] = MAGIC + bytes((1, ord("B")))  # what greenpylm 0.x (version 1) sends
        old.send_multipart([b""] + request)
        assert old.poll(10_000)
        reply = old.recv_multipart()
        assert reply[1] == MAGIC + bytes((1, ord("B")))  # in its own version: it can read it
        reply[1] = TAG_BATCH
        [answer] = decode(reply[1:])
        assert answer.error.type == "ProtocolError" and "protocol version 1" in \
            answer.error.message and f"version {VERSION}" in answer.error.message
    finally:
        old.close(0)
        context.term()
    server.wait_for("bad-version")


def test_a_client_meeting_a_server_of_another_version_fails_clearly(running):
    db = tcp(free_port())
    context = gzmq.Context.instance()
    fake = context.socket(zmq.ROUTER)
    fake.bind(db)

    def old_server() -> None:  # answers every cache request in protocol version 1
        while True:
            frames = fake.recv_multipart()
            [request] = decode(frames[2:])
            reply = encode([request.reply(b"tcp://127.0.0.1:9")])
            reply[0] = MAGIC + bytes((1, ord("B")))
            fake.send_multipart(frames[:2] + reply)

    serving = gevent.spawn(old_server)
    try:
        with Client("s", db) as client:
            start = time.monotonic()
            with pytest.raises(ProtocolError, match="protocol version 1"):
                client.eval("s.foo", b"x", timeout=5)
            assert time.monotonic() - start < 5
    finally:
        serving.kill()
        fake.close(0)


def test_a_client_closed_and_used_again_still_takes_its_lane(procs):
    _, (db, _, _) = start(procs)
    client = Client("s", db)
    try:
        assert client.eval("s.foo", b"1", timeout=10) == b"you sent me 1"
        client.close()
        assert client.eval("s.foo", b"2", timeout=10) == b"you sent me 2"
        assert not client._topic and client.replies_from == db
    finally:
        client.close()
