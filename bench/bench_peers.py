"""greenpylm next to the libraries one would pick instead of it, measured in the same run.

1. sequential round trips over tcp loopback, one call waiting for the
   other: `Client.eval` to a greenpylm `Server` process, a zerorpc client
   calling `echo` on a zerorpc server process, and the raw baseline (a
   zmq.green REQ client and a plain pyzmq REP echo process). The three
   alternate in short rounds, so that a noisy machine disturbs them alike;
   the best round of each is reported, its ratio to the best raw round, and
   the p50/p99 latencies of every round trip;
2. three shipped lambdas applied one after another to small integers:
   greenpylm's 3 chained server processes (bench_chained.chain), Ray (each
   item through three chained remote tasks, one per lambda, every item
   submitted before any result is gathered; Ray's local mode when the
   installed Ray has it, else a local Ray of `--ray-cpus` CPUs) and dask (a
   LocalCluster of `--dask-workers` worker processes of one thread each,
   `client.map` chained three times, then one gather), next to the raw
   one-hop echo pipe of the same run. Ray and dask cost milliseconds per
   item: they run `--peer-items` items, the others `--items`; the rates are
   per item, so they compare.

A peer that is not installed is skipped with a line that says so; all of
them come with the `peers` extra: pip install '.[peers]'.

Run: python bench/bench_peers.py [--evals N] [--rounds R] [--items N]
     [--peer-items N] [--repeat R] [--ray-cpus N] [--dask-workers N]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import statistics
import sys
import time
from typing import Any, Callable, Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import (PAYLOAD, alternating_rounds, best, free_port, raw_pipe,  # noqa: E402
                   secured, spawn_role, stop_all)
from bench_chained import chain  # noqa: E402
from bench_core import greenpylm_server  # noqa: E402

INSTALL_PEERS = "pip install '.[peers]'"
#: each peer, by the module that must import for it to be measured
PEER_MODULES = {"zerorpc": "zerorpc", "ray": "ray", "dask": "distributed"}
#: the lambdas bench_chained.chain ships, in its order: x -> 2x + 1
STEPS: list[Callable[[int], int]] = [lambda x: x + 1, lambda x: x * 2, lambda x: x - 1]
WARM_UP_ITEMS = 20
#: seconds a whole batch of Ray or dask items may take before the run fails
PEER_TIMEOUT = 600.0
#: read when Ray is imported: no usage report to Ray's servers, and every Ray
#: process on 127.0.0.1 (Ray otherwise takes the primary address, even when
#: told 127.0.0.1: single-node Ray as on macOS)
RAY_ON_LOOPBACK = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def installed_peers() -> set[str]:
    """The peers that import here; prints one line naming those that do not."""
    missing = []
    for peer, module in PEER_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(peer)
    if missing:
        print(f"not installed, skipped: {', '.join(missing)} (install them: {INSTALL_PEERS})")
    return set(PEER_MODULES) - set(missing)


# -- 1. sequential round trips ---------------------------------------------------------

Call = Callable[[], Any]


def round_trips(evals: int, rounds: int, with_zerorpc: bool
                ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Sequential round trips to the raw REP echo, a greenpylm Server and
    (when asked) a zerorpc server, each in its own process."""
    import zmq.green as zmq
    procs = []
    closing: list[Callable[[], None]] = []
    try:
        rep_port = free_port()
        procs.append(spawn_role("rep_echo", rep_port))
        req = zmq.Context.instance().socket(zmq.REQ)
        closing.append(lambda: req.close(0))
        req.connect(f"tcp://127.0.0.1:{rep_port}")

        def raw_reqrep() -> None:
            req.send(PAYLOAD)
            req.recv()

        calls: dict[str, Call] = {"raw REQ/REP": raw_reqrep}
        proc, client = greenpylm_server()
        procs.append(proc)
        closing.append(client.close)
        calls["greenpylm eval"] = lambda: client.eval("bench.echo", PAYLOAD)
        if with_zerorpc:
            calls["zerorpc"] = zerorpc_echo_call(procs, closing)
        for call in calls.values():
            call()  # connected, and the peer answers
        return alternating_rounds(calls, evals, rounds)
    finally:
        for close in closing:
            close()
        stop_all(procs)


def zerorpc_echo_call(procs: list, closing: list[Callable[[], None]]) -> Call:
    """A call of `echo` on a zerorpc server started now (added to `procs`),
    through a zerorpc client (its `close` added to `closing`)."""
    import zerorpc
    port = free_port()
    procs.append(spawn_role("zerorpc_echo", port))
    client = zerorpc.Client(f"tcp://127.0.0.1:{port}", timeout=30)
    closing.append(client.close)
    return lambda: client.echo(PAYLOAD)


def report_round_trips(rates: dict[str, list[float]], latencies: dict[str, list[float]],
                       evals: int, rounds: int) -> None:
    best_raw = max(rates["raw REQ/REP"])
    print(f"sequential round trips of a {len(PAYLOAD)}-byte payload: {evals} calls of each "
          f"kind per round, {rounds} alternating round{'s' if rounds > 1 else ''}, the best "
          "of each kind")
    print(f"{'':<28} {'calls/s':>10} {'vs raw':>7} {'p50 us':>8} {'p99 us':>8}")
    for kind, kind_rates in rates.items():
        cuts = statistics.quantiles(latencies[kind], n=100)
        print(f"{kind:<28} {max(kind_rates):>10,.0f} {max(kind_rates) / best_raw:>7.2f} "
              f"{cuts[49] * 1e6:>8.0f} {cuts[98] * 1e6:>8.0f}")


# -- 2. three shipped lambdas ----------------------------------------------------------

def assert_steps_applied(results: list[int], n: int) -> None:
    assert sorted(results) == [2 * x + 1 for x in range(n)], "wrong results"


@contextlib.contextmanager
def ray_started(cpus: int) -> Iterator[str]:
    """A Ray of this machine, shut down on leaving; yields what it is: local
    mode when the installed Ray still has it, else a local Ray of `cpus` CPUs."""
    import ray
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                               "_node_ip_address": "127.0.0.1"}
    try:
        ray.init(local_mode=True, **options)
        mode = "Ray local mode"
    except (RuntimeError, TypeError):  # local mode is gone from this Ray
        ray.shutdown()
        ray.init(num_cpus=cpus, **options)
        mode = f"a local Ray of num_cpus={cpus} (Ray {ray.__version__} has no local mode)"
    try:
        yield mode
    finally:
        ray.shutdown()


def ray_rate(n: int) -> float:
    """Items per second, each through three chained Ray tasks applying STEPS;
    every item submitted before any result is gathered."""
    import ray
    remote_steps = [ray.remote(step) for step in STEPS]

    def run(count: int) -> float:
        start = time.perf_counter()
        refs = []
        for x in range(count):
            ref = x
            for step in remote_steps:
                ref = step.remote(ref)
            refs.append(ref)
        results = ray.get(refs, timeout=PEER_TIMEOUT)
        rate = count / (time.perf_counter() - start)
        assert_steps_applied(results, count)
        return rate

    run(WARM_UP_ITEMS)  # the workers up, the functions exported
    return run(n)


@contextlib.contextmanager
def dask_started(workers: int) -> Iterator[Any]:
    """A dask client of a LocalCluster of `workers` processes of one thread
    each, on 127.0.0.1 and without a dashboard; both closed on leaving."""
    from dask.distributed import Client, LocalCluster
    # silence_logs: its workers' heartbeats race the cluster's closing and log
    # a harmless CommClosedError traceback when it shuts down
    with LocalCluster(processes=True, n_workers=workers, threads_per_worker=1,
                      host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster:
        with Client(cluster) as client:
            yield client


def dask_rate(client: Any, n: int) -> float:
    """Items per second through `client.map` chained three times (one per
    lambda of STEPS, never cached: pure=False), then one gather."""
    from dask.distributed import wait

    def run(count: int) -> float:
        start = time.perf_counter()
        futures = range(count)
        for step in STEPS:
            futures = client.map(step, futures, pure=False)
        wait(futures, timeout=PEER_TIMEOUT)
        results = client.gather(futures)
        rate = count / (time.perf_counter() - start)
        assert_steps_applied(results, count)
        return rate

    run(WARM_UP_ITEMS)  # the functions shipped to every worker
    return run(n)


def lambda_rates(args: argparse.Namespace, peers: set[str]) -> tuple[list[tuple[str, int, float]],
                                                                     dict[str, float]]:
    """Rows of (what, items, items/s), the raw pipe first, and the rates by system."""
    rows = [("raw one-hop pipe (no lambdas)", args.items, best(raw_pipe, args.items, args.repeat))]
    rates = {"greenpylm": best(chain, args.items, args.repeat)}
    rows.append(("greenpylm: 3 chained servers", args.items, rates["greenpylm"]))
    if "ray" in peers:
        with ray_started(args.ray_cpus) as mode:
            rates["Ray"] = best(ray_rate, args.peer_items, args.repeat)
        print(f"Ray measured: {mode}; 3 chained remote tasks per item, all submitted, "
              "then gathered")
        rows.append(("Ray: 3 chained tasks per item", args.peer_items, rates["Ray"]))
    if "dask" in peers:
        with dask_started(args.dask_workers) as client:
            rates["dask"] = best(lambda n: dask_rate(client, n), args.peer_items, args.repeat)
        print(f"dask measured: LocalCluster, {args.dask_workers} worker processes x 1 thread; "
              "client.map chained 3 times, then gathered")
        rows.append(("dask: client.map x 3", args.peer_items, rates["dask"]))
    return rows, rates


def report_lambdas(rows: list[tuple[str, int, float]], rates: dict[str, float],
                   args: argparse.Namespace) -> None:
    raw = rows[0][2]
    print(f"3 shipped lambdas applied one after another to small integers "
          f"(the best of {args.repeat} run{'s' if args.repeat > 1 else ''})")
    print(f"{'':<34} {'items':>7} {'items/s':>10} {'vs raw pipe':>12}")
    for name, items, rate in rows:
        print(f"{name:<34} {items:>7,} {rate:>10,.0f} {rate / raw:>12.3f}")
    for peer in ("Ray", "dask"):
        if peer in rates:
            print(f"greenpylm / {peer}: {rates['greenpylm'] / rates[peer]:,.1f}x")
    if "Ray" in rates or "dask" in rates:
        print(f"(Ray and dask ran {args.peer_items:,} items (--peer-items), greenpylm and the "
              f"raw pipe {args.items:,} (--items): rates per item, comparable; the aim is "
              "greenpylm at least 50x Ray local mode)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=500, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--items", type=int, default=20000,
                        help="items through greenpylm and the raw pipe")
    parser.add_argument("--peer-items", type=int, default=2000,
                        help="items through Ray and dask (slow per item)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ray-cpus", type=int, default=2,
                        help="CPUs of the local Ray, when it has no local mode")
    parser.add_argument("--dask-workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(RAY_ON_LOOPBACK)  # before Ray is imported
    peers = installed_peers()
    with secured(False):
        report_round_trips(*round_trips(args.evals, args.rounds, "zerorpc" in peers),
                           args.evals, args.rounds)
        print()
        report_lambdas(*lambda_rates(args, peers), args)


if __name__ == "__main__":
    main()
