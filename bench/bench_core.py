"""Core benchmark: greenpylm next to raw zmq, measured in the same run.

1. sequential round trips to a process over tcp loopback: `Client.eval` to a
   `Server`, next to the raw baseline (a zmq.green REQ client and a plain
   pyzmq REP echo process: the fastest a Python peer answers) and to a raw
   zmq.green DEALER and plain pyzmq ROUTER echo carrying greenpylm's frames
   (the sockets of greenpylm's client link, without greenpylm: what that
   topology itself costs). The three alternate in short rounds, so that a
   noisy machine disturbs them alike; the best round of each is reported,
   the median of the per-round ratios, and the latency percentiles of
   every round trip;
2. streaming: `Client.job` through one `Server` process vs the raw one-hop
   echo pipe (a zmq.green PUSH -> a plain pyzmq PULL-then-PUSH echo process
   -> a zmq.green PULL), one message per send;
3. both again with the cluster's key set (CURVE on every link), next to
   the plain figures of the same run: the ratio secured/plain.

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
from _util import (CPU, PAYLOAD, CpuPerMessage, alternating_rounds, best,  # noqa: E402
                   free_port, paired, report, report_cpu, report_rounds, report_secured,
                   secured, spawn_role, stop_all)


def greenpylm_server() -> tuple:
    from greenpylm.clients import Client
    db, pull, pub = free_port(), free_port(), free_port()
    proc = spawn_role("server", db, pull, pub)
    client = Client("bench", f"tcp://127.0.0.1:{db}")
    try:
        client.eval("bench.echo", PAYLOAD, timeout=30)  # warm up: connected and welcomed
    except BaseException:
        client.close()
        stop_all([proc])
        raise
    return proc, client


def round_trips(evals: int, rounds: int) -> list[tuple[str, float, float]]:
    """Rows for `report`: the best rates of `rounds` alternating rounds of
    `evals` sequential round trips each; prints ratios and latencies."""
    import zmq.green as zmq

    from greenpylm.wire import Message, encode

    context = zmq.Context.instance()
    procs = []
    rep_port, router_port = free_port(), free_port()
    procs.append(spawn_role("rep_echo", rep_port))
    procs.append(spawn_role("router_echo", router_port))
    req = context.socket(zmq.REQ)
    req.connect(f"tcp://127.0.0.1:{rep_port}")
    dealer = context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{router_port}")
    proc, client = greenpylm_server()
    procs.append(proc)
    frames = encode([Message("bench.echo", PAYLOAD, client="me", pipeline="me")])

    def raw_reqrep() -> None:
        req.send(PAYLOAD)
        req.recv()

    def raw_dealer_router() -> None:
        dealer.send_multipart(frames)
        dealer.recv_multipart()

    def greenpylm_eval() -> None:
        client.eval("bench.echo", PAYLOAD)

    kinds: dict[str, Callable[[], None]] = {
        "reqrep": raw_reqrep, "dealer_router": raw_dealer_router, "eval": greenpylm_eval}
    for call in kinds.values():
        call()  # connected
    rates, latencies = alternating_rounds(kinds, evals, rounds)
    client.close()
    for socket in (req, dealer):
        socket.close(0)
    stop_all(procs)
    for kind in ("eval", "dealer_router"):
        ratios = [a / b for a, b in zip(rates[kind], rates["reqrep"])]
        print(f"{kind}: median of the per-round ratios to raw REQ/REP "
              f"{statistics.median(ratios):.2f}")
    print(f"{'latency (us)':<28} {'p50':>7} {'p99':>7} {'p99.9':>7}")
    for kind, times in latencies.items():
        cuts = statistics.quantiles(times, n=1000)
        print(f"{kind:<28} {cuts[499] * 1e6:>7.0f} {cuts[989] * 1e6:>7.0f} "
              f"{cuts[998] * 1e6:>7.0f}")
    best_raw = max(rates["reqrep"])
    return [("sequential eval vs raw REQ/REP", max(rates["eval"]), best_raw),
            ("raw DEALER/ROUTER echo, same frames, vs REQ/REP", max(rates["dealer_router"]),
             best_raw)]


def greenpylm_job(n: int) -> float:
    proc, client = greenpylm_server()
    try:
        with CpuPerMessage({"client": os.getpid(), "server": proc.pid}) as cpu:
            start = time.perf_counter()
            count = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(n))))
            rate = count / (time.perf_counter() - start)
    finally:
        client.close()
        stop_all([proc])
    CPU["server"] = cpu.per_message(n)
    assert count == n, count
    return rate


def secured_evals(evals: int, rounds: int) -> tuple[float, float]:
    """The best rates of sequential evals to a keyed and to a plain server,
    in alternating rounds."""
    with secured(True):
        keyed = greenpylm_server()
    with secured(False):
        plain = greenpylm_server()
    rates: dict[str, list[float]] = {"keyed": [], "plain": []}
    for _ in range(rounds):
        for kind, (_, client) in (("keyed", keyed), ("plain", plain)):
            start = time.perf_counter()
            for _ in range(evals):
                client.eval("bench.echo", PAYLOAD)
            rates[kind].append(evals / (time.perf_counter() - start))
    for proc, client in (keyed, plain):
        client.close()
        stop_all([proc])
    return max(rates["keyed"]), max(rates["plain"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=500, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--stream", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with secured(False):
        rows = round_trips(args.evals, args.rounds)
        ours, raw, ratios = paired(greenpylm_job, args.stream, args.repeat)
        plain_cpu = dict(CPU)
    rows.append(("job through one Server vs raw one-hop pipe", ours, raw))
    report(rows)
    report_rounds("job through one Server", ratios)
    print("CPU us per message, by process (last run of each):")
    report_cpu("raw one-hop pipe", plain_cpu["raw pipe"])
    report_cpu("job through one Server", plain_cpu["server"])
    with secured(True):
        keyed_job = best(greenpylm_job, args.stream, args.repeat)
    report_secured([("sequential eval", *secured_evals(args.evals, args.rounds // 2 or 1)),
                    ("job through one Server", keyed_job, ours)])


if __name__ == "__main__":
    main()
