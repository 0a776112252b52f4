"""First answer wins, a lost worker's too: a worker declared lost that comes back
and answers what nobody else has answered yet is not made to run it again."""
from __future__ import annotations

import collections
import json
import re
import signal

import pytest

from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)


def test_a_frozen_worker_that_comes_back_has_its_answers_taken(procs):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush,
                   "1.5"])  # heartbeat timeout: lost after 1.5 s of silence
    procs.append(master)
    master.wait_for("started")
    worker = Proc(["tests/servers_for_tests.py", "worker", "w", db])
    procs.append(worker)
    master.wait_for("worker w joined")
    inputs = [b"%d" % i for i in range(1500)]
    with Client("m", db) as client:
        results = []
        for result in client.job("m.noted", inputs, timeout=90):
            results.append(result)
            if len(results) == 300:
                worker.popen.send_signal(signal.SIGSTOP)  # frozen, holding 256 messages
                master.wait_for("worker w lost")
                worker.popen.send_signal(signal.SIGCONT)  # back, nobody else ran them
        figures = json.loads(client.cache_client.request("stats", "", timeout=10))
    assert figures["in_flight"] == 0
    assert sorted(results) == sorted(i + b"|w" for i in inputs)
    worker.stop()
    runs = collections.Counter(re.findall(r"ran (\d+)", worker.output()))
    assert sum(runs.values()) == len(inputs), f"{sum(runs.values()) - len(inputs)} ran again"
    assert figures["counters"]["redispatched"] == 256  # it was taken for lost
    # back on the same connection, it keeps what it has not answered yet (its
    # first results may come before its hello: those are settled, not held)
    master.wait_for("worker w joined (capacity 256; it still holds ")


def test_a_lost_worker_answering_first_takes_back_the_copy_another_worker_holds(running):
    import gevent
    import zmq.green as gzmq

    from greenpylm.servers import Master
    from greenpylm.wire import encode
    from greenpylm.wire import worker_link as link

    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = running(Master("m", pull, pub, wpull, wpush, db, heartbeat_timeout=0.6))
    context = gzmq.Context.instance()
    first, second = (context.socket(gzmq.DEALER) for _ in range(2))
    beats = []
    try:
        for socket in (first, second):
            socket.setsockopt(gzmq.LINGER, 0)
            socket.connect(wpush)
        first.send_multipart(link.hello(1, "first", b"first-id"))
        with Client("m", db) as client:
            call = gevent.spawn(client.eval, "m.anything", b"x", timeout=20)
            held, messages = link.parse_work(first.recv_multipart(), 1 << 26)

            def beat() -> None:  # `second` stays alive; `first` says nothing and is lost
                while True:
                    second.send_multipart(link.hello(1, "second", b"second-id"))
                    gevent.sleep(0.1)

            beats.append(gevent.spawn(beat))
            copy, _ = link.parse_work(second.recv_multipart(), 1 << 26)  # handed out again
            assert master.stats["redispatched"] == 1 and copy != held
            first.send_multipart(link.results(held, held, encode([messages[0].reply(b"first")])))
            assert call.get(timeout=10) == b"first"
            assert master.stats["answered_late"] == 1
            assert not master.outbound_components["WorkerPush"].held  # the copy taken back
            second.send_multipart(link.results(copy, copy, encode([messages[0].reply(b"2nd")])))
            with gevent.Timeout(10):
                while master.stats["duplicates"] == 0:  # the answer of the copy: dropped
                    gevent.sleep(0.05)
            assert master.stats["answered_late"] == 1 and master.stats["duplicates"] == 1
    finally:
        gevent.killall(beats)
        first.close(0)
        second.close(0)
