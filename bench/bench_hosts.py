"""A Master + 4 workers across hosts (network namespaces on a bridge, as the
multi-host tests make them; needs root), next to the same on loopback.

Rows: loopback (one namespace); six hosts (master, 4 workers, client); the
same through a delaying forwarder (`_delay.py`) in front of the master at
0 ms (what the forwarder itself costs) and at 20 ms one-way (every hop to
and from the master: 40 ms round trips). Ratios are against loopback of the
same run. The kernel here has no ``tc netem``: the delay is in user space.

Run: sudo python bench/bench_hosts.py [--stream N]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from _util import stop_all  # noqa: E402
from hosts import Network  # noqa: E402

ROLES = os.path.join(HERE, "_roles.py")
DELAY = os.path.join(HERE, "_delay.py")
PORTS = [6101, 6102, 6103, 6104, 6105]  # db, pull, pub, worker pull, worker push
ENV = {**os.environ, "GREENPYLM_INSECURE": "1", "PYTHONUNBUFFERED": "1"}


def start(command: list[str], host=None, wait_for: str = "") -> subprocess.Popen:
    args = host.command(command) if host else command
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, text=True)
    if wait_for:
        line = proc.stdout.readline()
        assert wait_for in line, line
    return proc


def run(stream: int, master_host=None, worker_hosts=(None,) * 4, client_host=None,
        proxy_host=None, delay_ms: float = 0.0) -> float:
    """The job rate of one set-up (None for a host: this namespace, on loopback)."""
    procs = []
    try:
        seen_at = master_host.address if master_host else "127.0.0.1"
        if proxy_host is not None:
            procs.append(start([sys.executable, DELAY, str(delay_ms), seen_at,
                                *map(str, PORTS)], proxy_host, wait_for="forwarding"))
            seen_at = proxy_host.address
        procs.append(start([sys.executable, ROLES, "master_wide", seen_at, *map(str, PORTS)],
                           master_host))
        db, wpush = f"tcp://{seen_at}:{PORTS[0]}", f"tcp://{seen_at}:{PORTS[4]}"
        for host in worker_hosts:
            procs.append(start([sys.executable, ROLES, "worker_at", db, wpush], host))
        time.sleep(1.0)  # the workers join (a bench: no event to wait on across hosts)
        client = start([sys.executable, ROLES, "client_job", db, str(stream)], client_host)
        procs.append(client)
        out, _ = client.communicate(timeout=600)
        return float(out.split()[-1])
    finally:
        stop_all(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=50000)
    args = parser.parse_args()
    loopback = run(args.stream)
    network = Network()
    try:
        master, *workers, client, proxy = (network.host() for _ in range(7))
        across = run(args.stream, master, workers, client)
        forwarded = run(args.stream, master, workers, client, proxy, 0.0)
        delayed = run(args.stream, master, workers, client, proxy, 20.0)
    finally:
        network.remove()
    print(f"{'Master + 4 workers, job of 16-byte messages':<52} {'msgs/s':>10} "
          f"{'vs loopback':>12}")
    for name, rate in (("loopback (one host)", loopback), ("6 hosts, 0 ms added", across),
                       ("6 hosts through the forwarder, 0 ms", forwarded),
                       ("6 hosts through the forwarder, 20 ms one-way", delayed)):
        print(f"{name:<52} {rate:>10,.0f} {rate / loopback:>12.2f}")


if __name__ == "__main__":
    main()
