"""Helpers for the benchmarks: free ports and the peer processes they measure against."""
from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Iterator

import gevent
import zmq.green as zmq

ROLES = __file__.replace("_util.py", "_roles.py")
PAYLOAD = b"x" * 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_role(role: str, *ports: int) -> subprocess.Popen:
    """Start `bench/_roles.py role ports...` as a separate process."""
    return subprocess.Popen([sys.executable, ROLES, role, *map(str, ports)])


CHAIN_KEY = "bench key"
#: what the chain benches ship: one lambda per server
CHAIN_STEPS = [lambda x: x + 1, lambda x: x * 2, lambda x: x - 1]


def chain_of_three(counted: str = "", wrap: list | tuple = ()
                   ) -> tuple[str, str, list[subprocess.Popen]]:
    """Start 3 generic chained servers a, b and c (processes, cluster key
    `CHAIN_KEY`): the first one's pull address, the address the client
    takes results from, and the processes. The server named `counted` runs
    under `wrap` (a command line in front of its own: callgrind, say), its
    stderr piped."""
    pulls = [f"tcp://127.0.0.1:{free_port()}" for _ in range(3)]
    back = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "GREENPYLM_KEY": CHAIN_KEY}
    roles = [["server", "a", "--pull", pulls[0], "--next", pulls[1]],
             ["server", "b", "--pull", pulls[1], "--next", pulls[2]],
             ["last", "c", "--pull", pulls[2], "--push", back]]
    procs = [subprocess.Popen([*(wrap if role[1] == counted else ()), sys.executable, "-m",
                               "greenpylm.chained", *role, "--log-level", "WARNING"], env=env,
                              stderr=subprocess.PIPE if role[1] == counted else None, text=True)
             for role in roles]
    return pulls[0], back, procs


BENCH_KEY = "the benchmark's cluster secret"


@contextlib.contextmanager
def secured(on: bool) -> Iterator[None]:
    """With `on`, every process started and client made meanwhile has the
    cluster's key (CURVE on every tcp link); without, none has (plain)."""
    saved = os.environ.pop("GREENPYLM_KEY", None)
    if on:
        os.environ["GREENPYLM_KEY"] = BENCH_KEY
    try:
        yield
    finally:
        os.environ.pop("GREENPYLM_KEY", None)
        if saved is not None:
            os.environ["GREENPYLM_KEY"] = saved


def report_secured(rows: list[tuple[str, float, float]]) -> None:
    """Print (name, secured rate, plain rate) rows with their ratio."""
    print(f"{'with a key (CURVE) vs without':<50} {'secured/s':>12} {'plain/s':>12} {'ratio':>7}")
    for name, secured_rate, plain in rows:
        print(f"{name:<50} {secured_rate:>12,.0f} {plain:>12,.0f} {secured_rate / plain:>7.2f}")


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuPerMessage:
    """CPU microseconds per message of named processes over a stretch of work:
    ``with CpuPerMessage({"master": pid, ...}) as cpu: ...; cpu.report(n)``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> "CpuPerMessage":
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {name: cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}

    def per_message(self, n: int) -> dict[str, float]:
        """Microseconds of CPU per message, by process (and their total)."""
        figures = {name: used / n * 1e6 for name, used in self.used.items()}
        figures["all"] = sum(figures.values())
        return figures


def report_cpu(title: str, figures: dict[str, float]) -> None:
    """Print CPU microseconds per message by process (clock ticks: about 10 ms resolution)."""
    print(f"{title:<50} " + "  ".join(f"{name} {us:.1f}" for name, us in figures.items()))


def best(fn, n: int, repeat: int) -> float:
    """The best rate of `repeat` runs of `fn(n)` (the least disturbed one)."""
    return max(fn(n) for _ in range(repeat))


def paired(fn: Callable[[int], float], n: int, rounds: int) -> tuple[float, float, list[float]]:
    """`rounds` runs of the raw one-hop pipe and of `fn(n)`, one after the other,
    so that a change in the host's load meets both: (the best rate of `fn`, the
    best raw rate, the ratio of each round)."""
    ours, raw = [], []
    for _ in range(rounds):
        raw.append(raw_pipe(n))
        ours.append(fn(n))
    return max(ours), max(raw), [a / b for a, b in zip(ours, raw)]


def report_rounds(name: str, ratios: list[float]) -> None:
    """Print the median and range of the per-round ratios of `paired`."""
    print(f"{name}: median of {len(ratios)} per-round ratios to the raw pipe "
          f"{statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")


def report(rows: list[tuple[str, float, float]]) -> None:
    """Print (name, greenpylm rate, raw baseline rate) rows with their ratio."""
    print(f"{'benchmark':<50} {'greenpylm/s':>12} {'raw zmq/s':>12} {'ratio':>7}")
    for name, ours, raw in rows:
        print(f"{name:<50} {ours:>12,.0f} {raw:>12,.0f} {ours / raw:>7.2f}")


#: CPU microseconds per message of the last run of each benchmark function
CPU: dict[str, dict[str, float]] = {}


def pipe_rate(push: Any, pull: Any, n: int) -> float:
    """Messages per second of `n` payloads sent on `push` (from a greenlet of
    their own, one message per send) and read back on `pull`: the raw baseline's
    client."""
    def sender() -> None:
        for _ in range(n):
            push.send(PAYLOAD)

    start = time.perf_counter()
    feeder = gevent.spawn(sender)
    for _ in range(n):
        pull.recv()
    rate = n / (time.perf_counter() - start)
    feeder.join()
    return rate


def raw_pipe(n: int) -> float:
    pin, pout = free_port(), free_port()
    proc = spawn_role("pipe_echo", pin, pout)
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    pull = ctx.socket(zmq.PULL)
    try:
        push.connect(f"tcp://127.0.0.1:{pin}")
        pull.connect(f"tcp://127.0.0.1:{pout}")
        push.send(PAYLOAD)
        pull.recv()  # warm up
        with CpuPerMessage({"client": os.getpid(), "echo": proc.pid}) as cpu:
            rate = pipe_rate(push, pull, n)
    finally:
        push.close(0)
        pull.close(0)
        stop_all([proc])
    CPU["raw pipe"] = cpu.per_message(n)
    return rate


def alternating_rounds(calls: dict[str, Callable[[], Any]], evals: int, rounds: int
                       ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Rates of each round and the time of every call, by kind: each round
    makes `evals` sequential calls of every kind, one kind after the other."""
    rates: dict[str, list[float]] = {kind: [] for kind in calls}
    latencies: dict[str, list[float]] = {kind: [] for kind in calls}
    clock = time.perf_counter
    for _ in range(rounds):
        for kind, call in calls.items():
            times = latencies[kind]
            start = clock()
            for _ in range(evals):
                before = clock()
                call()
                times.append(clock() - before)
            rates[kind].append(evals / (clock() - start))
    return rates, latencies
