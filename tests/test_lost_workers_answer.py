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
    master.wait_for("worker w joined (capacity 256; it still holds 256 messages)")
