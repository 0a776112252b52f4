"""Helpers for the benchmarks: free ports and the peer processes they measure against."""
from __future__ import annotations

import socket
import subprocess
import sys

ROLES = __file__.replace("_util.py", "_roles.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_role(role: str, *ports: int) -> subprocess.Popen:
    """Start `bench/_roles.py role ports...` as a separate process."""
    return subprocess.Popen([sys.executable, ROLES, role, *map(str, ports)])


def stop_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
