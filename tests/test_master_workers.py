"""Master and workers as separate processes over loopback tcp."""
from __future__ import annotations

from collections import Counter

import gevent
import pytest
from gevent.event import Event

from greenpylm import RemoteError
from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)


def start_master(procs, name="master"):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", name, db, pull, pub, wpull, wpush])
    procs.append(master)
    master.wait_for("started")
    return db


def start_worker(procs, name, db):
    worker = Proc(["tests/servers_for_tests.py", "worker", name, db])
    procs.append(worker)
    worker.wait_for("working for")
    return worker


def test_two_workers_share_a_job_of_a_hundred_thousand(procs):
    db = start_master(procs)
    start_worker(procs, "w1", db)
    start_worker(procs, "w2", db)
    with Client("master", db) as client:
        results = client.job("master.work", (b"%d" % i for i in range(100_000)), timeout=30)
        seen = Counter()
        payloads = set()
        for result in results:
            payload, worker = result.split(b"|")
            seen[worker] += 1
            payloads.add(payload)
    assert len(payloads) == 100_000 and sum(seen.values()) == 100_000
    assert set(seen) == {b"w1", b"w2"}, seen
    assert min(seen.values()) > 10_000, seen  # both took a real share


def test_messages_sent_before_any_worker_wait_at_the_master(procs):
    db = start_master(procs, "patient")
    everything_sent = Event()

    def payloads():  # fewer than a call sends before its first reply (FIRST_GUESS)
        yield from (b"%d" % i for i in range(200))
        everything_sent.set()

    with Client("patient", db) as client:
        job = gevent.spawn(lambda: list(client.job("patient.work", payloads(), timeout=60)))
        assert everything_sent.wait(30)
        assert not job.ready()  # nobody to do the work yet
        start_worker(procs, "late", db)
        results = job.get(timeout=60)
    assert sorted(int(r.split(b"|")[0]) for r in results) == list(range(200))


def test_worker_errors_reach_the_client_and_work_goes_on(procs):
    db = start_master(procs, "careful")
    start_worker(procs, "w", db)
    with Client("careful", db) as client:
        with pytest.raises(RemoteError) as info:
            client.eval("careful.fail", b"x", timeout=10)
        assert info.value.remote_type == "RuntimeError"
        assert "worker failure" in info.value.remote_message
        with pytest.raises(RemoteError, match="UnknownMethod"):
            client.eval("careful.nothing", b"x", timeout=10)
        assert client.eval("careful.work", b"ok", timeout=10) == b"ok|w"
