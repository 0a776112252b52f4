"""Three chained server processes applying three shipped lambdas to small
integers, next to the raw one-hop echo pipe of the same run (a zmq.green client,
a plain pyzmq echo process).

Run: python bench/bench_chained.py [--items N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import (CHAIN_KEY, CHAIN_STEPS, CPU, CpuPerMessage, chain_of_three,  # noqa: E402
                   paired, report, report_cpu, report_rounds, stop_all)

def chain(n: int) -> float:
    from greenpylm.chained.client import LoopClient
    first, back, procs = chain_of_three()
    steps = CHAIN_STEPS
    try:
        with LoopClient(back, first, key=CHAIN_KEY, logging_level="WARNING") as client:
            client.eval(steps, 1, timeout=30)  # warm up: the chain is up
            pids = {"client": os.getpid(), **{name: p.pid for name, p in zip("abc", procs)}}
            with CpuPerMessage(pids) as cpu:
                start = time.perf_counter()
                results = list(client.job(steps, range(n)))
                rate = len(results) / (time.perf_counter() - start)
    finally:
        stop_all(procs)
    CPU["chain"] = cpu.per_message(n)
    assert sorted(results) == [2 * x + 1 for x in range(n)]
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours, raw, ratios = paired(chain, args.items, args.repeat)
    report([("3 chained servers, 3 shipped lambdas vs raw pipe", ours, raw)])
    report_rounds("3 chained servers", ratios)
    print("CPU us per message, by process (last run of each):")
    report_cpu("raw one-hop pipe", CPU["raw pipe"])
    report_cpu("3 chained servers (a, b, c)", CPU["chain"])


if __name__ == "__main__":
    main()
