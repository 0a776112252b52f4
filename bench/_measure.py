"""What the benchmarks read off the kernel: a process's resident memory, and
the bytes its TCP connections carried (`ss -tinp`, iproute2)."""
from __future__ import annotations

import re
import subprocess
from typing import Iterable


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid`, in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


#: one connection (local address, peer address) -> (bytes sent, bytes received)
Traffic = dict[tuple[str, str], tuple[int, int]]
COUNTER = re.compile(r"\bbytes_(sent|received):(\d+)")


def traffic(pid: int, ports: Iterable[int]) -> Traffic:
    """The kernel's byte counters of every established TCP connection process
    `pid` has to 127.0.0.1 at one of `ports`."""
    wanted = " or ".join(f"dst 127.0.0.1:{port}" for port in ports)
    out = subprocess.run(["ss", "-tinpHO", "state", "established", f"( {wanted} )"],
                         capture_output=True, text=True, check=True).stdout
    owner = re.compile(rf"\bpid={pid},")
    counted: Traffic = {}
    for line in out.splitlines():
        if not owner.search(line):
            continue
        fields = line.split()
        counters = dict(COUNTER.findall(line))
        counted[(fields[2], fields[3])] = (int(counters.get("sent", 0)),
                                           int(counters.get("received", 0)))
    return counted


def traffic_between(before: Traffic, after: Traffic) -> tuple[int, int]:
    """Bytes (sent, received) over the connections between two readings."""
    lost = before.keys() - after.keys()
    if lost:
        raise RuntimeError(f"connections closed while counting (their bytes would be "
                           f"missed): {sorted(lost)}")
    sent = sum(s - before.get(key, (0, 0))[0] for key, (s, _) in after.items())
    received = sum(r - before.get(key, (0, 0))[1] for key, (_, r) in after.items())
    return sent, received
