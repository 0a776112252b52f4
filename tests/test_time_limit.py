"""A per-message time limit: a message stuck on a worker goes to another one;
one that is stuck everywhere fails with a clear error; without a limit it waits."""
from __future__ import annotations

import json

import gevent
import pytest

from greenpylm import CallTimeout, RemoteError
from greenpylm.clients import Client
from helpers import Proc, master_and_workers

pytestmark = pytest.mark.timeout(120)


def cluster(procs, *workers: str, limit: str = "") -> tuple[str, Proc]:
    """A master (time limit `limit` seconds, 2 tries) with `workers`: its db address
    and its process."""
    master, db = master_and_workers(procs, workers, options=("3", limit, "2") if limit else ())
    return db, master


def kill_stuck(procs) -> None:
    """Workers stuck in a blocking sleep cannot handle SIGTERM: spare the wait."""
    for proc in procs:
        if " worker stuck" in proc.name:
            proc.popen.kill()


def wait_until_held(client: Client) -> None:
    """Until the master has handed a message to a worker."""
    with gevent.Timeout(10):
        while json.loads(client.cache_client.request("stats", "", timeout=5))["in_flight"] < 1:
            gevent.sleep(0.05)


@pytest.mark.parametrize("method", ["stall", "doze"])  # holds the hub / yields for ever
def test_a_message_stuck_past_the_time_limit_completes_on_another_worker(procs, method):
    db, master = cluster(procs, "stuck", limit="2")
    with Client("m", db) as client:
        answer = gevent.spawn(client.eval, f"m.{method}", b"x", timeout=30)
        wait_until_held(client)  # by 'stuck', alone
        procs.append(Proc(["tests/servers_for_tests.py", "worker", "good", db]))
        assert answer.get(timeout=40) == b"x|good"
        figures = json.loads(client.cache_client.request("stats", "", timeout=10))
    assert figures["counters"]["over_time_limit"] == 1
    assert figures["in_flight"] == 0
    kill_stuck(procs)


def test_a_worker_with_a_time_limit_of_its_own_hands_back_what_holds_it(procs):
    db, master = cluster(procs)  # the master has no time limit
    procs.append(Proc(["tests/servers_for_tests.py", "worker", "stuck", db, "1"]))
    master.wait_for("worker stuck joined")
    with Client("m", db) as client:
        answer = gevent.spawn(client.eval, "m.stall", b"x", timeout=30)
        wait_until_held(client)
        procs.append(Proc(["tests/servers_for_tests.py", "worker", "good", db]))
        assert answer.get(timeout=40) == b"x|good"
    master.wait_for("worker stuck lost (stuck in a step past the time limit (the worker's own))")
    kill_stuck(procs)


def test_a_message_stuck_everywhere_fails_after_its_tries(procs):
    db, master = cluster(procs, "stuck1", "stuck2", limit="1")
    with Client("m", db) as client:
        with pytest.raises(RemoteError, match=r"TimeLimitExceeded: ran longer than the time "
                                              r"limit \(1 s\), 2 times"):
            client.eval("m.stall", b"x", timeout=30)
    master.wait_for("ran past the time limit (1 s) 2 times")
    kill_stuck(procs)


def test_without_a_time_limit_a_stuck_message_waits(procs):
    db, master = cluster(procs, "stuck")
    procs.append(Proc(["tests/servers_for_tests.py", "worker", "good", db]))
    master.wait_for("worker good joined")
    with Client("m", db) as client:
        with pytest.raises(CallTimeout):
            client.eval("m.stall", b"x", timeout=5)
        figures = json.loads(client.cache_client.request("stats", "", timeout=10))
    assert figures["in_flight"] == 1  # held by the stuck worker, which still beats
    kill_stuck(procs)
