"""How a Master scales: its throughput as worker processes grow (1, 2, 4, 8, 16;
trivial work and 1 ms of work) and as clients grow (1, 4, 16, 64), each next to
the raw one-hop pipe of the same run (a zmq.green client, a plain pyzmq echo
process). Writes a PNG of the curves with matplotlib (the `bench` extra).

The ratio of 16 workers to 2 is measured again in alternating pairs (one
point of a curve moves with the host's load).

Run: python bench/bench_scaling.py [--messages N] [--plot bench/scaling.png] [--pairs N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import ROLES, free_port, raw_pipe, spawn_role, stop_all  # noqa: E402

WORKERS = [1, 2, 4, 8, 16]
CLIENTS = [1, 4, 16, 64]
CLIENT_PROCESSES = 4  # clients are greenlets spread over this many processes


def joined(db: str, workers: int, timeout: float = 60) -> None:
    """Wait until the master at `db` has `workers` workers."""
    from greenpylm.cache_client import CacheClient
    import zmq.green as zmq
    cache = CacheClient("bench", db, zmq.Context.instance(), "scaling")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            stats = json.loads(cache.request("stats", "", timeout=10))
            if len(stats.get("workers_seen", ())) >= workers:
                return
            time.sleep(0.2)
        raise TimeoutError(f"only {stats.get('workers_seen')} joined")
    finally:
        cache.close()


def master_rate(workers: int, work_ms: float, clients: int, messages: int) -> float:
    """Messages per second through a Master with `workers` worker processes."""
    ports = [free_port() for _ in range(5)]
    db = f"tcp://127.0.0.1:{ports[0]}"
    procs = [spawn_role("master", *ports)]
    try:
        procs += [subprocess.Popen([sys.executable, ROLES, "worker_load", db, str(work_ms)])
                  for _ in range(workers)]
        joined(db, workers)
        spread = [clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
                  for i in range(min(clients, CLIENT_PROCESSES))]
        runners = [subprocess.Popen([sys.executable, ROLES, "clients_job", db, str(k),
                                     str(messages // clients)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True) for k in spread]
        for runner in runners:
            assert runner.stdout.readline().strip() == "ready"
        for runner in runners:
            runner.stdin.write("go\n")
            runner.stdin.flush()
        results = [runner.stdout.readline().split() for runner in runners]
        for runner in runners:
            runner.wait(30)
        done = sum(int(r[1]) for r in results)
        began, ended = min(float(r[2]) for r in results), max(float(r[3]) for r in results)
        return done / (ended - began)
    finally:
        stop_all(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40000)
    parser.add_argument("--plot", default=os.path.join(HERE, "scaling.png"))
    parser.add_argument("--pairs", type=int, default=3,
                        help="alternating runs of 2 and 16 workers for their ratio")
    args = parser.parse_args()
    raw = raw_pipe(args.messages)
    print(f"raw one-hop pipe (zmq.green client, plain pyzmq echo): {raw:,.0f}/s")
    curves: dict[str, list[tuple[int, float]]] = {}
    for work_ms in (0.0, 1.0):
        name = f"workers, {work_ms:g} ms of work"
        for workers in WORKERS:
            n = args.messages if not work_ms else min(args.messages, 2000 * workers)
            rate = master_rate(workers, work_ms, 1, n)
            curves.setdefault(name, []).append((workers, rate))
            print(f"{name:<28} {workers:>3}: {rate:>10,.0f}/s  ratio to raw {rate / raw:.2f}")
    for clients in CLIENTS:
        rate = master_rate(2, 0.0, clients, args.messages)
        curves.setdefault("clients, 2 workers", []).append((clients, rate))
        print(f"{'clients, 2 workers':<28} {clients:>3}: {rate:>10,.0f}/s  ratio to raw "
              f"{rate / raw:.2f}")
    trivial = dict(curves["workers, 0 ms of work"])
    print(f"16 workers / 2 workers (trivial work), on the curve: {trivial[16] / trivial[2]:.2f}")
    ratios = [master_rate(16, 0.0, 1, args.messages) / master_rate(2, 0.0, 1, args.messages)
              for _ in range(args.pairs)]
    print(f"16 workers / 2 workers (trivial work), {args.pairs} alternating pairs: median "
          f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")
    plot(curves, raw, args.plot)


def plot(curves: dict, raw: float, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: pip install '.[bench]' (matplotlib)")
        return
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, points in curves.items():
        ax = axes[1] if name.startswith("clients") else axes[0]
        ax.plot([x for x, _ in points], [y / raw for _, y in points], marker="o", label=name)
    for ax, label in zip(axes, ("worker processes", "clients")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(label)
        ax.set_ylabel("messages/s ÷ raw one-hop pipe")
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.legend()
        ax.grid(alpha=0.3)
    figure.suptitle(f"greenpylm Master throughput (raw pipe: {raw:,.0f} messages/s)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
