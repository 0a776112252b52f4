"""Paths without a ledger survive a stage restart: what a crashed middle stage
held is sent again by the client, and every result arrives once."""
from __future__ import annotations

import collections
import signal

import pytest

from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)


def test_a_pipeline_whose_middle_stage_is_killed_and_restarted(procs):
    first_db, first_pull, first_pub = (tcp(free_port()) for _ in range(3))
    middle_db, middle_pub, last_db, last_pub = (tcp(free_port()) for _ in range(4))
    stages = {"first": [first_db, first_pull, first_pub],
              "middle": [middle_db, first_pub, middle_pub],
              "last": [last_db, middle_pub, last_pub]}

    def start(role: str) -> Proc:
        proc = Proc(["tests/pipeline_for_tests.py", role, *stages[role]])
        procs.append(proc)
        proc.wait_for("started")
        return proc

    running = {role: start(role) for role in ("last", "middle", "first")}
    running["last"].wait_for("subscribed")
    running["middle"].wait_for("subscribed")
    inputs = [b"%d" % i for i in range(5000)]
    seen: collections.Counter = collections.Counter()
    with Client("first", first_db, sub_address=last_pub) as client:
        client.resend_after = 2.0  # seconds of silence (10 by default)
        steps = ["first.step", "middle.step", "last.step"]
        for n, result in enumerate(client.job(steps, inputs, timeout=60), 1):
            seen[result] += 1
            if n == 1500:
                running["middle"].popen.send_signal(signal.SIGKILL)  # loses what it holds
                running["middle"].popen.wait(10)
                running["middle"] = start("middle")
    assert seen == collections.Counter(i + b"|first|middle|last" for i in inputs)


def test_a_chain_of_servers_whose_middle_step_is_killed_and_restarted(procs):
    from test_chained import KEY, chain

    first, back, steps = chain(procs)
    client = Proc(["tests/chained_client_for_tests.py", "progress", "5000", first, back],
                  env=KEY)
    procs.append(client)
    client.wait_for("progress 1000", timeout=60)
    middle = steps[1]
    middle.popen.send_signal(signal.SIGKILL)  # loses what it holds, and its shipped code
    middle.popen.wait(10)
    procs.append(Proc(middle.popen.args[1:], env=KEY))  # the same step, restarted
    assert client.popen.wait(90) == 0, client.output()
    assert client.drain().splitlines()[-1] == '{"count": 5000, "exactly once": true}'
