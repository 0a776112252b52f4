"""Memory during a long job: resident memory (RSS) of the client, the master
and a worker at 100,000 and at 1,000,000 messages (it should stay flat).

Run: python bench/bench_memory.py [--messages N]
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _measure import rss_kib  # noqa: E402
from _util import PAYLOAD, free_port, spawn_role, stop_all  # noqa: E402


def rss_mb(pid: int) -> float:
    return rss_kib(pid) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    from greenpylm.clients import Client
    db, pull, pub, wpull, wpush = (free_port() for _ in range(5))
    master = spawn_role("master", db, pull, pub, wpull, wpush)
    workers = [spawn_role("worker", db) for _ in range(2)]
    marks = sorted({min(100_000, args.messages), args.messages})
    rows = []
    with Client("bench", f"tcp://127.0.0.1:{db}", logging_level="WARNING") as client:
        client.eval("bench.echo", PAYLOAD, timeout=30)
        count = 0
        for _ in client.job("bench.echo", (PAYLOAD for _ in range(args.messages))):
            count += 1
            if count in marks:
                rows.append((count, rss_mb(os.getpid()), rss_mb(master.pid),
                             rss_mb(workers[0].pid)))
    stop_all([master, *workers])
    print(f"{'messages':>10} {'client MB':>10} {'master MB':>10} {'worker MB':>10}")
    for count, client_mb, master_mb, worker_mb in rows:
        print(f"{count:>10,} {client_mb:>10.1f} {master_mb:>10.1f} {worker_mb:>10.1f}")


if __name__ == "__main__":
    main()
