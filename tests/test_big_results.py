"""A result larger than the frame limit is an error for that one message, not
the loss of the results it travels with."""
from __future__ import annotations

import json

import gevent
import pytest

from greenpylm import RemoteError
from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)


def test_an_80_mb_result_fails_alone_while_a_job_runs_beside_it(procs):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush])
    procs.append(master)
    master.wait_for("started")
    for name in ("w1", "w2"):
        procs.append(Proc(["tests/servers_for_tests.py", "worker", name, db]))
        master.wait_for(f"worker {name} joined")
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
