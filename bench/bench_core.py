"""Core benchmark: greenpylm next to raw zmq.green, measured in the same run.

1. sequential round trips to a process over tcp loopback: `Client.eval` to a
   `Server`, next to a raw zmq.green REQ/REP echo and to a raw PUSH -> PULL,
   XPUB -> SUB echo carrying greenpylm's frames (the sockets greenpylm's
   topology uses, without greenpylm: what the topology itself costs). The
   three alternate in short rounds, so that a noisy machine disturbs them
   alike; the best round of each is reported, and the median of the
   per-round ratios;
2. streaming: `Client.job` through one `Server` process vs a raw zmq.green
   one-hop echo pipe (PUSH -> echo process -> PULL), one message per send.

Run: python bench/bench_core.py [--evals N] [--rounds R] [--stream N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import PAYLOAD, best, free_port, raw_pipe, report, spawn_role, stop_all  # noqa: E402


def greenpylm_server() -> tuple:
    from greenpylm.clients import Client
    db, pull, pub = free_port(), free_port(), free_port()
    proc = spawn_role("server", db, pull, pub)
    client = Client("bench", f"tcp://127.0.0.1:{db}")
    client.eval("bench.echo", PAYLOAD, timeout=30)  # warm up: connected and welcomed
    return proc, client


def round_trips(evals: int, rounds: int) -> list[tuple[str, float, float]]:
    """Rows for `report`: the best rates of `rounds` alternating rounds of
    `evals` sequential round trips each."""
    import zmq.green as zmq

    from greenpylm.wire import Message, encode

    context = zmq.Context.instance()
    procs = []
    rep_port = free_port()
    procs.append(spawn_role("rep_echo", rep_port))
    req = context.socket(zmq.REQ)
    req.connect(f"tcp://127.0.0.1:{rep_port}")
    pin, pout = free_port(), free_port()
    procs.append(spawn_role("pull_pub_echo", pin, pout))
    push = context.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{pin}")
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"me")
    sub.connect(f"tcp://127.0.0.1:{pout}")
    proc, client = greenpylm_server()
    procs.append(proc)
    frames = encode([Message("bench.echo", PAYLOAD, client="me", pipeline="me")])

    def raw_reqrep() -> None:
        req.send(PAYLOAD)
        req.recv()

    def raw_pull_pub() -> None:
        push.send_multipart(frames)
        sub.recv_multipart()

    def greenpylm_eval() -> None:
        client.eval("bench.echo", PAYLOAD)

    raw_reqrep()
    while not sub.poll(100):  # until the subscription has reached the echo
        push.send_multipart(frames)
    while sub.poll(100):
        sub.recv_multipart()
    kinds: dict[str, Callable[[], None]] = {
        "reqrep": raw_reqrep, "pull_pub": raw_pull_pub, "eval": greenpylm_eval}
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind, call in kinds.items():
            start = time.perf_counter()
            for _ in range(evals):
                call()
            rates[kind].append(evals / (time.perf_counter() - start))
    client.close()
    for socket in (req, push, sub):
        socket.close(0)
    stop_all(procs)
    for kind in ("eval", "pull_pub"):
        ratios = [a / b for a, b in zip(rates[kind], rates["reqrep"])]
        print(f"{kind}: median of the per-round ratios to REQ/REP {statistics.median(ratios):.2f}")
    best_raw = max(rates["reqrep"])
    return [("sequential eval vs raw REQ/REP", max(rates["eval"]), best_raw),
            ("raw PULL/XPUB echo, same frames, vs raw REQ/REP", max(rates["pull_pub"]), best_raw)]


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
    parser.add_argument("--evals", type=int, default=500, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--stream", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = round_trips(args.evals, args.rounds)
    raw = best(raw_pipe, args.stream, args.repeat)
    ours = best(greenpylm_job, args.stream, args.repeat)
    rows.append(("job through one Server vs raw one-hop pipe", ours, raw))
    report(rows)


if __name__ == "__main__":
    main()
