"""Client.job(progress=True): a bar on a terminal, nothing in a pipe."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

from helpers import ROOT, Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)

SCRIPT = """
import sys
from greenpylm.clients import Client
with Client("s", sys.argv[1]) as client:
    results = list(client.job("s.foo", [b"x"] * 300, progress=True, timeout=20))
print("results:", len(results))
"""


@pytest.fixture
def server(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    proc = Proc(["tests/servers_for_tests.py", "server", "s", db, pull, pub])
    procs.append(proc)
    proc.wait_for("started")
    return db


def test_the_bar_shows_on_a_terminal(server):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    child = subprocess.Popen([sys.executable, "-c", SCRIPT, server], cwd=ROOT,
                             stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        assert child.wait(30) == 0
        os.close(leader)
    text = output.decode(errors="replace")
    assert "results: 300" in text
    assert "300/300" in text and "msg" in text  # tqdm's bar drew the count


def test_no_bar_in_a_pipe(server):
    child = subprocess.run([sys.executable, "-c", SCRIPT, server], cwd=ROOT,
                           capture_output=True, text=True, timeout=30)
    assert child.returncode == 0
    assert child.stdout.strip() == "results: 300"
    assert "300/300" not in child.stderr and "msg/s" not in child.stderr
