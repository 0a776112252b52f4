"""Shared test helpers: free loopback ports and server processes that clean up."""
from __future__ import annotations

import itertools
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ephemeral() -> range:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


_EPHEMERAL = _ephemeral()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, outside the
    ephemeral range (where any process's outgoing connection may take it)."""
    import random
    for _ in range(500):
        port = random.randrange(10000, 65000)
        if port in _EPHEMERAL:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port outside the ephemeral range")


def tcp(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


_inproc_names = itertools.count()


def inproc(tag: str) -> str:
    """An inproc:// address no other test uses."""
    return f"inproc://{tag}-{next(_inproc_names)}"


class Proc:
    """A Python process whose stderr and stdout lines are collected as they come.

    `wait_for(text)` blocks until a line containing `text` appears (or the
    timeout passes, or the process exits): tests synchronise on what the
    process says, never on sleeps. `stop()` terminates it and waits.
    """

    def __init__(self, args: list[str], cwd: Path | None = None, env: dict | None = None,
                 netns: "NetNamespace | None" = None, stdin: int = subprocess.DEVNULL) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        command = [sys.executable, *args]
        self.name = " ".join(args)
        self.popen = subprocess.Popen(
            netns.command(command) if netns else command, cwd=cwd or ROOT, env=full_env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=stdin)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 30.0, count: int = 1) -> str:
        """The `count`-th line containing `text`, waiting for it up to `timeout` s."""
        deadline = time.monotonic() + timeout
        seen = 0
        for line in self.lines:
            if text in line:
                seen += 1
                if seen == count:
                    return line
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{text!r} not seen in {timeout}s; output:\n" + self.output())
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                raise RuntimeError(f"process exited ({self.popen.wait()}) before {text!r}; "
                                   "output:\n" + self.output())
            self.lines.append(line)
            if text in line:
                seen += 1
                if seen == count:
                    return line

    def drain(self, timeout: float = 10.0) -> str:
        """Wait for the process to end and return all its output."""
        self.popen.wait(timeout)
        self._collect(timeout)
        return self.output()

    def _collect(self, timeout: float) -> None:
        self._reader.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)

    def output(self) -> str:
        return "\n".join(self.lines)

    def logged(self, text: str, level: str = "") -> list[str]:
        """The lines seen so far that end with `text` (and name `level`, if given)."""
        return [line for line in self.lines if line.rstrip().endswith(text) and level in line]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._collect(5)
        return self.popen.returncode


class NetNamespace:
    """A network namespace of this test's own (needs root): a fresh loopback,
    so that programs with fixed ports (pylm's) never meet another test's."""

    _names = itertools.count()

    def __init__(self) -> None:
        self.name = f"greenpylm-test-{os.getpid()}-{next(self._names)}"
        try:
            subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(f"cannot create a network namespace (root and iproute2 are "
                               f"needed): {exc}") from exc
        subprocess.run(self.command(["ip", "link", "set", "lo", "up"]), check=True)

    def command(self, args: list[str]) -> list[str]:
        """`args` run inside the namespace (``ip netns exec`` execs them: same pid)."""
        return ["ip", "netns", "exec", self.name, *args]

    def delete(self) -> None:
        """Kill whatever still runs inside, then remove the namespace."""
        left = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True)
        for pid in left.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True)


def python_code(code: str, *argv: str, env: dict | None = None) -> Proc:
    """Run `code` with ``python -c`` in a new process."""
    return Proc(["-c", code, *argv], env=env)


def free_port_block(n: int) -> int:
    """A base port such that base .. base+n-1 are all free on 127.0.0.1 right now."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 60000 - n)
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no block of {n} free ports found")


def master_and_workers(procs: list, workers: tuple[str, ...] = ("w1", "w2"),
                       name: str = "m", options: tuple[str, ...] = ()) -> tuple[Proc, str]:
    """A master of servers_for_tests (named `name`, with the role's `options`) and
    its `workers`, each a process added to `procs`, all joined; the master and
    its db address."""
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/servers_for_tests.py", "master", name, db, pull, pub, wpull, wpush,
                   *options])
    procs.append(master)
    master.wait_for("started")
    for worker in workers:
        procs.append(Proc(["tests/servers_for_tests.py", "worker", worker, db]))
        master.wait_for(f"worker {worker} joined")
    return master, db
