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
import subprocess
import sys
import time

import gevent
import zmq.green as zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import free_port, spawn_role, stop_all  # noqa: E402

PAYLOAD = b"x" * 16


def raw_reqrep(n: int) -> float:
    port = free_port()
    proc = spawn_role("rep_echo", port)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.connect(f"tcp://127.0.0.1:{port}")
    sock.send(PAYLOAD)
    sock.recv()  # warm up: the echo process is up
    start = time.perf_counter()
    for _ in range(n):
        sock.send(PAYLOAD)
        sock.recv()
    rate = n / (time.perf_counter() - start)
    sock.close(0)
    stop_all([proc])
    return rate


def raw_pipe(n: int) -> float:
    pin, pout = free_port(), free_port()
    proc = spawn_role("pipe_echo", pin, pout)
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{pin}")
    pull = ctx.socket(zmq.PULL)
    pull.connect(f"tcp://127.0.0.1:{pout}")
    push.send(PAYLOAD)
    pull.recv()  # warm up

    def sender() -> None:
        for _ in range(n):
            push.send(PAYLOAD)

    start = time.perf_counter()
    g = gevent.spawn(sender)
    for _ in range(n):
        pull.recv()
    rate = n / (time.perf_counter() - start)
    g.join()
    push.close(0)
    pull.close(0)
    stop_all([proc])
    return rate


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


def best(fn, n: int, repeat: int) -> float:
    return max(fn(n) for _ in range(repeat))


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
    print(f"{'benchmark':<45} {'greenpylm/s':>12} {'raw zmq/s':>12} {'ratio':>7}")
    for name, ours, raw in rows:
        print(f"{name:<45} {ours:>12,.0f} {raw:>12,.0f} {ours / raw:>7.2f}")


if __name__ == "__main__":
    main()
