"""Nothing is lost when workers die, freeze, leave or the master restarts."""
from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from greenpylm import CallTimeout
from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)
HEARTBEAT_TIMEOUT = "1.0"


def start_master(procs, addresses, name="m"):
    db, pull, pub, wpull, wpush = addresses
    master = Proc(["tests/servers_for_tests.py", "master", name, db, pull, pub, wpull, wpush,
                   HEARTBEAT_TIMEOUT])
    procs.append(master)
    master.wait_for("started")
    return master


def start_workers(procs, db, names):
    workers = [Proc(["tests/servers_for_tests.py", "worker", n, db]) for n in names]
    procs.extend(workers)
    for worker in workers:
        worker.wait_for("started")
    return workers


def run_job(db, n, on_progress, name="m", timeout=30):
    """Results of a job of `n` slow messages; `on_progress(count)` after each result."""
    seen = Counter()
    with Client(name, db) as client:
        for result in client.job(f"{name}.slow", (b"%d" % i for i in range(n)), timeout=timeout):
            seen[result.split(b"|")[0]] += 1
            on_progress(sum(seen.values()))
    return seen


def exactly_once(seen, n):
    return set(seen) == {b"%d" % i for i in range(n)} and set(seen.values()) == {1}


def test_a_worker_killed_at_thirty_percent_loses_nothing(procs):
    addresses = [tcp(free_port()) for _ in range(5)]
    master = start_master(procs, addresses)
    workers = start_workers(procs, addresses[0], ["w1", "w2", "w3"])
    for w in ("w1", "w2", "w3"):
        master.wait_for(f"worker {w} joined")

    def kill_at_thirty_percent(count):
        if count == 3000:
            os.kill(workers[0].popen.pid, signal.SIGKILL)

    seen = run_job(addresses[0], 10_000, kill_at_thirty_percent)
    assert exactly_once(seen, 10_000)
    assert workers[0].popen.wait(5) == -signal.SIGKILL
    master.wait_for("worker w1 lost")


def test_a_frozen_worker_is_replaced_and_its_late_answers_dropped(procs):
    addresses = [tcp(free_port()) for _ in range(5)]
    master = start_master(procs, addresses)
    workers = start_workers(procs, addresses[0], ["frozen", "steady"])
    for w in ("frozen", "steady"):
        master.wait_for(f"worker {w} joined")

    def freeze_at_twenty_percent(count):
        if count == 400:
            os.kill(workers[0].popen.pid, signal.SIGSTOP)

    seen = run_job(addresses[0], 2000, freeze_at_twenty_percent)
    assert exactly_once(seen, 2000)
    master.wait_for("worker frozen lost")
    os.kill(workers[0].popen.pid, signal.SIGCONT)
    master.wait_for("dropped late answers", timeout=20)
    assert master.alive() and workers[0].alive()


def test_a_worker_stopped_with_sigterm_finishes_and_exits_zero(procs):
    addresses = [tcp(free_port()) for _ in range(5)]
    master = start_master(procs, addresses)
    workers = start_workers(procs, addresses[0], ["leaving", "staying"])
    for w in ("leaving", "staying"):
        master.wait_for(f"worker {w} joined")

    def terminate_at_thirty_percent(count):
        if count == 900:
            workers[0].popen.terminate()

    seen = run_job(addresses[0], 3000, terminate_at_thirty_percent)
    assert exactly_once(seen, 3000)
    assert workers[0].popen.wait(20) == 0
    out = workers[0].drain()
    assert "SIGTERM: stopping intake" in out and "stopped" in out
    # its goodbye, or its vanished connection if the master tried it first:
    # either way what it held went to the others (and nothing was lost, above)
    line = master.wait_for("worker leaving l")
    assert "left" in line or "unreachable" in line


def test_a_master_restarted_mid_job_never_leaves_the_client_hanging(procs):
    addresses = [tcp(free_port()) for _ in range(5)]
    master = start_master(procs, addresses)
    start_workers(procs, addresses[0], ["w"])
    master.wait_for("worker w joined")
    state = {}

    def restart_at_half(count):
        if count == 1000:
            master.popen.kill()
            master.popen.wait()
            state["new"] = start_master(procs, addresses)

    start = time.monotonic()
    # the client resends what was outstanding when the new master welcomes it
    # again; were it not so, the job's timeout would raise a clear CallTimeout
    seen = run_job(addresses[0], 2000, restart_at_half, timeout=10)
    assert exactly_once(seen, 2000)
    assert time.monotonic() - start < 60
    assert state["new"].alive()


def test_a_timeout_is_honoured_while_the_master_is_down(procs):
    addresses = [tcp(free_port()) for _ in range(5)]
    master = start_master(procs, addresses)
    start_workers(procs, addresses[0], ["w"])
    with Client("m", addresses[0]) as client:
        assert client.eval("m.slow", b"1", timeout=10) == b"1|w"
        master.stop()
        start = time.monotonic()
        with pytest.raises(CallTimeout, match="1 of 1 messages"):
            client.eval("m.slow", b"2", timeout=1.0)
        assert time.monotonic() - start < 2.5
