"""`Supervisor`: worker processes kept running beside a command, as gunicorn's
``-w N`` keeps its workers: one that exits is started again (after a pause
that grows while it keeps failing), and SIGTERM or Ctrl-C stops them all.

Children run in a session of their own, so that Ctrl-C in a terminal reaches
only the supervisor, which then stops them in order; on Linux each child is
also sent SIGTERM if the supervisor dies without stopping it.
"""
from __future__ import annotations

import ctypes
import signal
import sys
import time
from typing import Callable

import gevent
import gevent.event
from gevent import subprocess

from ..log import get_logger

RESTART_FIRST = 0.5  # seconds before a crashed worker process is started again
RESTART_MAX = 30.0  # the longest pause, for one that keeps failing
STEADY_AFTER = 30.0  # seconds of running after which its pause starts over
STOP_TIMEOUT = 15.0  # seconds a worker process has to stop before it is killed


def _die_with_parent() -> None:  # runs in the child, before exec
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class Supervisor:
    """Runs each of `commands` as a process and starts it again when it exits."""

    def __init__(self, commands: list[list[str]], label: str) -> None:
        self.commands = commands
        self.log = get_logger(label, "supervisor")
        self.processes: list[subprocess.Popen | None] = [None] * len(commands)
        self.stopping = gevent.event.Event()

    def _keep(self, index: int) -> None:
        command, pause = self.commands[index], RESTART_FIRST
        name = command[5] if len(command) > 5 else str(index)
        while not self.stopping.is_set():
            began = time.monotonic()
            process = subprocess.Popen(command, start_new_session=True,
                                       preexec_fn=_die_with_parent)
            self.processes[index] = process
            self.log.info("started worker process {} (pid {})", name, process.pid)
            code = process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - began > STEADY_AFTER:
                pause = RESTART_FIRST
            self.log.warning("worker process {} (pid {}) exited with {}; starting it again in "
                             "{:g} s", name, process.pid, code, pause)
            self.stopping.wait(pause)
            pause = min(pause * 2, RESTART_MAX)

    def run_until_signal(self, until: Callable[[], object] | None = None) -> None:
        """Keep the processes running until SIGTERM or SIGINT (or `until` returns:
        the server beside them stopped), then stop them."""
        keepers = [gevent.spawn(self._keep, i) for i in range(len(self.commands))]
        handlers = [gevent.signal_handler(number, self._on_signal, number)
                    for number in (signal.SIGTERM, signal.SIGINT)]
        watcher = gevent.spawn(until) if until is not None else None
        try:
            if watcher is not None:
                watcher.link(lambda _: self.stopping.set())
            self.stopping.wait()
        finally:
            for handler in handlers:
                handler.cancel()
            self.stop()
            gevent.killall(keepers)
            if watcher is not None:
                watcher.kill()

    def _on_signal(self, number: int) -> None:
        self.log.info("{}: stopping the worker processes", signal.Signals(number).name)
        self.stopping.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to every process (a graceful stop), SIGKILL after `timeout`."""
        self.stopping.set()
        running = [p for p in self.processes if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log.warning("worker process {} did not stop within {:g} s: killed",
                                 process.pid, timeout)
                process.kill()
                process.wait()
