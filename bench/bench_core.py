"""Core benchmark: greenpylm next to raw zmq.green, measured in the same run.

1. sequential round trips: `Client.eval` to a `Server` process vs a raw
   zmq.green REQ/REP echo process;
2. streaming: `Client.job` through one `Server` process vs a raw zmq.green
   one-hop echo pipe (PUSH -> echo process -> PULL), one message per send.

Run: python bench/bench_core.py [--evals N] [--stream N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import PAYLOAD, best, free_port, raw_pipe, raw_reqrep, report, spawn_role, stop_all  # noqa: E402,E501


def greenpylm_server() -> tuple:
    from greenpylm.clients import Client
    db, pull, pub = free_port(), free_port(), free_port()
    proc = spawn_role("server", db, pull, pub)
    client = Client("bench", f"tcp://127.0.0.1:{db}")
    client.eval("bench.echo", PAYLOAD, timeout=30)  # warm up: connected and welcomed
    return proc, client


def greenpylm_eval(n: int) -> float:
    proc, client = greenpylm_server()
    start = time.perf_counter()
    for _ in range(n):
        client.eval("bench.echo", PAYLOAD)
    rate = n / (time.perf_counter() - start)
    client.close()
    stop_all([proc])
    return rate


def greenpylm_job(n: int) -> float:
    proc, client = greenpylm_server()
    start = time.perf_counter()
    count = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(n))))
    rate = count / (time.perf_counter() - start)
    assert count == n, count
    client.close()
    stop_all([proc])
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=5000)
    parser.add_argument("--stream", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    raw = best(raw_reqrep, args.evals, args.repeat)
    ours = best(greenpylm_eval, args.evals, args.repeat)
    rows.append(("sequential eval vs raw REQ/REP", ours, raw))
    raw = best(raw_pipe, args.stream, args.repeat)
    ours = best(greenpylm_job, args.stream, args.repeat)
    rows.append(("job through one Server vs raw one-hop pipe", ours, raw))
    report(rows)


if __name__ == "__main__":
    main()
