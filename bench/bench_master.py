"""Master + 2 worker processes: `Client.job` of small messages, next to the raw
one-hop echo pipe (zmq.green PUSH -> plain pyzmq echo process -> PULL) of the same run,
plain and with the cluster's key set (CURVE on every link): the ratio
secured/plain.

Run: python bench/bench_master.py [--stream N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import (CPU, PAYLOAD, CpuPerMessage, best, free_port, paired,  # noqa: E402
                   report, report_cpu, report_rounds, report_secured, secured, spawn_role,
                   stop_all)


def master_job(n: int) -> float:
    from greenpylm.clients import Client
    db, pull, pub, wpull, wpush = (free_port() for _ in range(5))
    procs = [spawn_role("master", db, pull, pub, wpull, wpush)]
    procs += [spawn_role("worker", db) for _ in range(2)]
    client = Client("bench", f"tcp://127.0.0.1:{db}")
    # warm up until both workers answer
    seen = set()
    while len(seen) < 2:
        seen.update(client.job("bench.who", (PAYLOAD for _ in range(200)), timeout=30))
    pids = {"client": os.getpid(), "master": procs[0].pid,
            **{f"worker{i}": p.pid for i, p in enumerate(procs[1:], 1)}}
    with CpuPerMessage(pids) as cpu:
        start = time.perf_counter()
        count = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(n))))
        rate = count / (time.perf_counter() - start)
    CPU["master"] = cpu.per_message(n)
    assert count == n, count
    client.close()
    stop_all(procs)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with secured(False):
        ours, raw, ratios = paired(master_job, args.stream, args.repeat)
        plain_cpu = dict(CPU)
    with secured(True):
        keyed = best(master_job, args.stream, args.repeat)
    report([("job through Master + 2 workers vs raw one-hop pipe", ours, raw)])
    report_rounds("job through Master + 2 workers", ratios)
    report_secured([("job through Master + 2 workers", keyed, ours)])
    print("CPU us per message, by process (last run of each):")
    report_cpu("raw one-hop pipe", plain_cpu["raw pipe"])
    report_cpu("job through Master + 2 workers", plain_cpu["master"])


if __name__ == "__main__":
    main()
