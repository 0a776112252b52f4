"""A cluster across hosts (network namespaces on a bridge): wildcard binds,
links cut and healed, a server restarted behind a cut."""
from __future__ import annotations

import json
import sys
import time

import pytest

from helpers import Proc

pytestmark = pytest.mark.timeout(180)
ENV = {"GREENPYLM_KEY": "a secret for the hosts of this test"}
DB_PORT = 5590


@pytest.fixture
def network():
    from hosts import Network
    try:
        net = Network()
    except Exception as exc:  # not root, no iproute2: say so loudly
        print(f"\n*** MULTI-HOST TESTS SKIPPED: cannot create network namespaces: {exc}",
              file=sys.stderr)
        pytest.skip(f"cannot create network namespaces: {exc}")
    try:
        yield net
    finally:
        net.remove()


def on(host, procs, *args: str) -> Proc:
    proc = Proc(list(args), env=ENV, netns=host)
    procs.append(proc)
    return proc


def master_on(host, procs) -> Proc:
    """A master bound to wildcard addresses (the cache service on DB_PORT)."""
    wild = "tcp://0.0.0.0:*"
    master = on(host, procs, "tests/servers_for_tests.py", "master", "m",
                f"tcp://0.0.0.0:{DB_PORT}", wild, wild, "tcp://*:*", "tcp://*:*")
    master.wait_for("started")
    return master


def test_a_job_across_four_hosts_arrives_exactly_once(network, procs):
    master_host, *worker_hosts, client_host = (network.host() for _ in range(4))
    master = master_on(master_host, procs)
    db = master_host.tcp(DB_PORT)
    assert f"advertised as tcp://{master_host.address}:" in master.output()
    for i, host in enumerate(worker_hosts):
        on(host, procs, "tests/servers_for_tests.py", "worker", f"w{i}", db)
        master.wait_for(f"worker w{i} joined")
    client = on(client_host, procs, "tests/multihost_client.py", "job", db, "20000")
    assert client.popen.wait(150) == 0, client.output()
    figures = json.loads(client.drain().splitlines()[-1])
    assert figures == {"results": 20000, "distinct": 20000, "missing": 0, "duplicated": 0}


def test_a_worker_host_cut_for_five_seconds_loses_nothing_and_comes_back(network, procs):
    master_host, cut_host, other_host, client_host = (network.host() for _ in range(4))
    master = master_on(master_host, procs)
    db = master_host.tcp(DB_PORT)
    on(cut_host, procs, "tests/servers_for_tests.py", "worker", "cut", db)
    on(other_host, procs, "tests/servers_for_tests.py", "worker", "other", db)
    master.wait_for("worker cut joined")
    master.wait_for("worker other joined")
    client = on(client_host, procs, "tests/multihost_client.py", "job", db, "20000")
    client.wait_for("progress 3000", timeout=60)
    cut_host.cut()
    time.sleep(5)  # the cut itself is the scenario: five seconds of silence
    cut_host.heal()
    master.wait_for("worker cut joined", count=2, timeout=5)  # back within 5 s of heal
    assert client.popen.wait(150) == 0, client.output()
    figures = json.loads(client.drain().splitlines()[-1])
    assert figures == {"results": 20000, "distinct": 20000, "missing": 0, "duplicated": 0}
    assert "worker cut lost" in master.output()


@pytest.mark.parametrize("path", ["client link", "pylm's push and sub"])
def test_a_server_restarted_behind_a_cut_is_called_again_within_ten_seconds(
        network, procs, path):
    server_host, client_host = network.host(), network.host()
    db, pull, pub = (f"tcp://0.0.0.0:{DB_PORT + i}" for i in range(3))
    args = ["tests/servers_for_tests.py", "server", "s", db, pull, pub]
    server = on(server_host, procs, *args)
    server.wait_for("started")
    where = [server_host.tcp(DB_PORT + i) for i in range(3 if "pylm" in path else 1)]
    client = on(client_host, procs, "tests/multihost_client.py", "calls", *where)
    client.wait_for("call 20 ok")
    server_host.crash_and_reboot()  # the client's connections are now half-open
    restarted = on(server_host, procs, *args)
    restarted.wait_for("started")
    client.wait_for(" timeout ")  # its calls fail meanwhile
    healed = time.monotonic()
    server_host.heal()
    line = client.wait_for(" ok ", count=sum(" ok " in x for x in client.lines) + 1,
                           timeout=30)
    assert float(line.split()[-1]) - healed < 10, client.output()
