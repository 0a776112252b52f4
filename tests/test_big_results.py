"""A result larger than the frame limit is an error for that one message, not
the loss of the results it travels with."""
from __future__ import annotations

import json

import gevent
import pytest

from greenpylm import RemoteError
from greenpylm.clients import Client
from helpers import Proc, free_port, master_and_workers, python_code, tcp

pytestmark = pytest.mark.timeout(120)


def test_an_80_mb_result_fails_alone_while_a_job_runs_beside_it(procs):
    master, db = master_and_workers(procs)
    inputs = [b"%d" % i for i in range(499)]
    with Client("m", db) as client:
        job = gevent.spawn(lambda: sorted(r.rpartition(b"|")[0] for r in
                                          client.job("m.work", inputs, timeout=60)))
        with pytest.raises(RemoteError, match=r"larger than the frame limit of 67108864 bytes"):
            client.eval("m.big", b"80", timeout=60)
        assert job.get(timeout=60) == sorted(inputs)
        assert client.eval("m.work", b"next", timeout=10).startswith(b"next|")
        figures = json.loads(client.cache_client.request("stats", "", timeout=10))
    assert figures["in_flight"] == 0


def test_a_job_keeps_what_it_expects_back_within_its_window_bytes(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/servers_for_tests.py", "recording", "s", db, pull, pub])
    procs.append(server)
    server.wait_for("started")
    with Client("s", db, window=2000) as client:
        client.window_bytes = 8_000_000  # eight results of 1 MB
        job = client.job("s.big", [b"1"] * 200, timeout=30)
        taken = [next(job) for _ in range(10)]
        # what the job sent before this eval has run once the eval is answered
        assert client.eval("s.foo", b"sync", timeout=10) == b"you sent me sync"
        server.wait_for("ran sync for")
        ran = len([line for line in server.lines if " ran 1 for " in line])
        assert 10 <= ran <= 10 + 8, f"{ran} inputs sent for 10 results taken"
        taken += list(job)
    assert len(taken) == 200 and {len(result) for result in taken} == {1_000_000}


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


STRANGER = """
import os, sys, zmq
from zmq.utils.monitor import recv_monitor_message
subscriber = zmq.Context().socket(zmq.SUB)
monitor = subscriber.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
subscriber.connect(sys.argv[1])
recv_monitor_message(monitor)  # connected
for i in range(8):
    subscriber.setsockopt(zmq.SUBSCRIBE, bytes([65 + i]) * 1_000_000)
monitor.poll(10000)  # the server hangs up on the first of them (or keeps them all)
print("subscribed", flush=True)
sys.stdin.readline()
os._exit(0)  # libzmq frees a trie of such topics recursively: its stack would overflow
"""


def test_huge_subscription_topics_are_refused_and_cost_no_memory(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/servers_for_tests.py", "server", "s", db, pull, pub])
    procs.append(server)
    server.wait_for("started")
    with Client("s", db) as client:
        assert client.eval("s.foo", b"warm", timeout=10) == b"you sent me warm"
        before = rss_mb(server.popen.pid)
        stranger = python_code(STRANGER, pub)
        procs.append(stranger)
        stranger.wait_for("subscribed")
        assert client.eval("s.foo", b"after", timeout=10) == b"you sent me after"
        assert rss_mb(server.popen.pid) - before < 60


def test_results_a_master_cannot_read_fail_their_calls_instead_of_hanging(running):
    import zmq.green as gzmq

    from greenpylm.servers import Master
    from greenpylm.wire import worker_link as link
    from greenpylm.wire.frames import TAG_BATCH

    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    running(Master("m", pull, pub, wpull, wpush, db))
    garbling = gzmq.Context.instance().socket(gzmq.DEALER)
    garbling.setsockopt(gzmq.LINGER, 0)
    garbling.connect(wpush)

    def answer_with_garbage() -> None:
        garbling.send_multipart(link.hello(16, "garbling", b"garbling-id"))
        tickets, _ = link.parse_work(garbling.recv_multipart(), 1 << 26)
        batch = [TAG_BATCH, b"not a header", b"payload"]  # tickets done, results unreadable
        garbling.send_multipart(link.results(tickets, tickets, batch))
        while True:
            garbling.send_multipart(link.hello(16, "garbling", b"garbling-id"))
            gevent.sleep(0.2)

    fake = gevent.spawn(answer_with_garbage)
    try:
        with Client("m", db) as client:
            with pytest.raises(RemoteError, match="the worker's results could not be read"):
                client.eval("m.anything", b"x", timeout=20)
            figures = json.loads(client.cache_client.request("stats", "", timeout=10))
        assert figures["in_flight"] == 0
    finally:
        fake.kill()
        garbling.close(0)
