"""Busy is not dead: a worker computing for a long time keeps its work; a
blocked hub is reported; long fan-outs let the server answer meanwhile."""
from __future__ import annotations

import time

import gevent
import pytest

from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)
KEY = {"GREENPYLM_KEY": "busy test key"}


def test_a_worker_in_a_long_cpu_loop_is_busy_not_lost(procs):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush,
                   "1.0"])  # a heartbeat timeout far shorter than the step
    procs.append(master)
    master.wait_for("started")
    workers = [Proc(["tests/servers_for_tests.py", "worker", name, db]) for name in ("w1", "w2")]
    procs.extend(workers)
    for name in ("w1", "w2"):
        master.wait_for(f"worker {name} joined")
    with Client("m", db) as client:
        start = time.monotonic()
        results = list(client.job("m.spin", [b"15"], timeout=60))
        took = time.monotonic() - start
    assert len(results) == 1 and results[0].startswith(b"15|w")
    assert 14 < took < 40
    busy = workers[0] if results[0].endswith(b"w1") else workers[1]
    busy.wait_for("spin held the hub for 15", timeout=10)
    assert "lost" not in master.output()  # never declared lost, never re-dispatched
    assert "dropped late answers" not in master.output()


def test_the_cache_answers_while_a_shipped_generator_fans_out(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/servers_for_tests.py", "server", "s", db, pull, pub], env=KEY)
    procs.append(server)
    server.wait_for("started")
    items = 100_000

    def many(n):
        for i in range(n):
            yield sum(range(i % 200))  # a little work per item

    with Client("s", db, key=KEY["GREENPYLM_KEY"]) as client, \
            Client("s", db, key=KEY["GREENPYLM_KEY"]) as asking:
        job = gevent.spawn(lambda: sum(1 for _ in client.job(
            [("s", many)], [items], messages=items, timeout=60)))
        # the fan-out has begun (waited for in a thread: the hub must keep running)
        gevent.get_hub().threadpool.apply(server.wait_for, ("loaded shipped callable", 20))
        start = time.monotonic()
        assert asking.get("name", timeout=5) == b"s"
        answered = time.monotonic() - start
        assert not job.ready(), "the fan-out should still be running"
        assert answered < 1.0, f"the cache took {answered:.2f} s to answer"
        assert job.get(timeout=60) == items
