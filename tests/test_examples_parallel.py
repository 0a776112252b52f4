"""The master/worker examples run end to end as separate processes, as their
READMEs say, each on its own block of free loopback ports.

Processes start in order and the test waits for each to say it is ready
(servers log "started", workers "working for", a hub "subscribed to
'server'") before starting the next; the client starts last.
"""
from __future__ import annotations

import ast
import re

import pytest

from helpers import Proc, free_port_block

pytestmark = pytest.mark.timeout(120)

N = 10  # what the clients send by default
WORKERS = ("worker1", "worker2")


def example_env(ports: int) -> dict:
    return {"EXAMPLE_BASE_PORT": str(free_port_block(ports))}


def start(procs: list, script: str, *args: str, env: dict, ready: str = "started") -> Proc:
    proc = Proc([f"examples/{script}", *args], env=env)
    procs.append(proc)
    proc.wait_for(ready)
    return proc


def start_workers(procs: list, example: str, env: dict) -> list[Proc]:
    workers = [Proc([f"examples/{example}/worker.py", name], env=env) for name in WORKERS]
    procs.extend(workers)
    for worker in workers:
        worker.wait_for("working for")
    return workers


def start_master_and_workers(procs: list, example: str, env: dict) -> list[Proc]:
    master = start(procs, f"{example}/master.py", env=env)
    return [master, *start_workers(procs, example, env)]


def run_client(procs: list, example: str, env: dict) -> tuple[list[bytes], list[str]]:
    """Run the example's client to its end: the results it printed, and its lines."""
    client = Proc([f"examples/{example}/client.py"], env=env)
    procs.append(client)
    assert client.popen.wait(60) == 0, client.drain()
    lines = client.drain().splitlines()
    results = [ast.literal_eval(line) for line in lines if line.startswith(("b'", 'b"'))]
    return results, lines


def message_number(result: bytes) -> int:
    match = re.match(rb"message (\d+) ", result)
    assert match, result
    return int(match.group(1))


def check_processed_by_workers(results: list[bytes], lines: list[str]) -> None:
    assert len(results) == N
    assert sorted(message_number(r) for r in results) == list(range(N))
    for result in results:
        assert re.fullmatch(rb"message \d+ processed by worker[12]", result), result
    assert lines[-1] == f"{N} results received"


def test_parallel(procs):
    env = example_env(5)
    servers = start_master_and_workers(procs, "parallel", env)
    results, lines = run_client(procs, "parallel", env)
    check_processed_by_workers(results, lines)
    assert all(p.alive() for p in servers)


def test_cache(procs):
    env = example_env(5)
    servers = start_master_and_workers(procs, "cache", env)
    results, lines = run_client(procs, "cache", env)
    assert lines[0] == "stored b'hello from the cache,' under 'greeting'"
    assert len(results) == N
    assert sorted(message_number(r[len(b"hello from the cache, "):]) for r in results) \
        == list(range(N))
    for result in results:
        assert re.fullmatch(rb"hello from the cache, message \d+ \(from worker[12]\)", result)
    assert lines[-2:] == [f"{N} results received", "deleted 'greeting'"]
    assert all(p.alive() for p in servers)


def test_scatter(procs):
    env = example_env(5)
    servers = start_master_and_workers(procs, "scatter", env)
    results, lines = run_client(procs, "scatter", env)
    assert len(results) == 3 * N
    assert sorted(message_number(r) for r in results) == sorted(list(range(N)) * 3)
    assert lines[-1] == f"{N} messages sent, {3 * N} results received"
    assert all(p.alive() for p in servers)


def test_gather(procs):
    env = example_env(5)
    servers = start_master_and_workers(procs, "gather", env)
    results, lines = run_client(procs, "gather", env)
    assert len(results) == 3 * N
    assert results.count(b"final message") == 1
    assert results[-1] == b"final message"
    # the rewritten result is one of the three of some message
    numbers = sorted(message_number(r) for r in results[:-1])
    assert len(numbers) == 3 * N - 1 and set(numbers) == set(range(N))
    assert lines[-1] == f"{N} messages sent, {3 * N} results received"
    assert all(p.alive() for p in servers)


def test_template(procs):
    env = example_env(5)
    servers = start_master_and_workers(procs, "template", env)
    results, lines = run_client(procs, "template", env)
    check_processed_by_workers(results, lines)
    assert all(p.alive() for p in servers)


def test_server_hub(procs):
    env = example_env(7)
    server = start(procs, "server_hub/server.py", env=env)
    hub = start(procs, "server_hub/hub.py", env=env)
    hub.wait_for("subscribed to 'server'")
    workers = start_workers(procs, "server_hub", env)
    results, lines = run_client(procs, "server_hub", env)
    assert len(results) == N
    assert sorted(message_number(r) for r in results) == list(range(N))
    for result in results:
        assert re.fullmatch(rb"message \d+ -> foo -> bar by worker[12]", result), result
    assert lines[-1] == f"{N} results received"
    assert all(p.alive() for p in (server, hub, *workers))
