"""Servers that tests run as separate processes.

    python tests/servers_for_tests.py server NAME DB PULL PUB [LEVEL]
    python tests/servers_for_tests.py recording NAME DB PULL PUB
    python tests/servers_for_tests.py master NAME DB PULL PUB WORKER_PULL WORKER_PUSH
                                      [HEARTBEAT_TIMEOUT [TIME_LIMIT TRIES]]
    python tests/servers_for_tests.py worker NAME MASTER_DB [TIME_LIMIT]
    python tests/servers_for_tests.py forgetful NAME PULL NEXT EVERY [last]
"""
from __future__ import annotations

import sys
import time

import gevent

from greenpylm.chained import servers as chained
from greenpylm.servers import Master, Server, Worker


class EchoServer(Server):
    """Methods that exercise results, errors and drops."""

    def foo(self, payload: bytes) -> bytes:
        """Answers b'you sent me ' and the payload."""
        return b"you sent me " + payload

    def fail(self, payload: bytes) -> bytes:
        raise ValueError("fail was asked to fail: " + payload.decode(errors="replace"))

    def drop(self, payload: bytes) -> None:
        return None

    def number(self, payload: bytes) -> int:
        return 42

    def big(self, payload: bytes) -> bytes:
        """A result of `payload` megabytes."""
        return b"x" * (int(payload) * 1_000_000)


class RecordingServer(EchoServer):
    """Logs every step it runs ('ran <payload> for <client>'), so that a test
    counts the runs of each input; `nap` answers after 10 ms."""

    def execute(self, message):
        self.log.info("ran {} for {}", bytes(message.payload).decode(errors="replace"),
                      message.client)
        return super().execute(message)

    def nap(self, payload: bytes) -> bytes:
        gevent.sleep(0.01)
        return payload


class NamedWorker(Worker):
    """Results say which worker made them: b'<payload>|<worker name>'."""

    def work(self, payload: bytes) -> bytes:
        """Answers the payload, '|' and the worker's name."""
        return payload + b"|" + self.name.encode()

    def fail(self, payload: bytes) -> bytes:
        raise RuntimeError("worker failure")

    def spin(self, payload: bytes) -> bytes:
        """Pure-Python CPU work for `payload` seconds, holding the hub (no offload)."""
        end = time.perf_counter() + float(payload)
        while time.perf_counter() < end:
            pass
        return payload + b"|" + self.name.encode()

    def slow(self, payload: bytes) -> bytes:
        time.sleep(0.001)  # blocking (not patched): the worker is busy meanwhile
        return payload + b"|" + self.name.encode()

    def noted(self, payload: bytes) -> bytes:
        """`work` after 5 ms, logging 'ran <payload>' (a test counts the runs)."""
        gevent.sleep(0.005)
        self.log.info("ran {}", payload.decode())
        return self.work(payload)

    def stall(self, payload: bytes) -> bytes:
        """Holds the hub for ever on a worker whose name starts with 'stuck'."""
        if self.name.startswith("stuck"):
            time.sleep(3600)  # blocking: the hub is held, only the beat thread runs
        return self.work(payload)

    def doze(self, payload: bytes) -> bytes:
        """Waits for ever (yielding) on a worker whose name starts with 'stuck'."""
        if self.name.startswith("stuck"):
            gevent.sleep(3600)
        return self.work(payload)

    def big(self, payload: bytes) -> bytes:
        """A result of `payload` megabytes."""
        return b"x" * (int(payload) * 1_000_000)


class Forgetful(chained.Server):
    """A generic chained step that forgets every shipped callable each `every` messages."""

    def __init__(self, *args, every: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.every = every

    def execute(self, message):
        if self._handled and self._handled % self.every == 0:
            self.seal.callables.clear()
        return super().execute(message)


class ForgetfulLast(Forgetful):
    """The same, as the last step of a chain (it binds the address the client pulls from)."""

    next_part = chained.LastServer.next_part


def main() -> None:
    role, name, *rest = sys.argv[1:]
    if role == "server":
        db, pull, pub, *level = rest
        EchoServer(name, db, pull, pub, log_level=level[0] if level else "INFO").start()
    elif role == "recording":
        RecordingServer(name, *rest).start()
    elif role == "master":
        db, pull, pub, worker_pull, worker_push, *timeout = rest
        options = {"heartbeat_timeout": float(timeout[0])} if timeout else {}
        if len(timeout) == 3:
            options.update(time_limit=float(timeout[1]), time_limit_tries=int(timeout[2]))
        Master(name, pull, pub, worker_pull, worker_push, db, **options).start()
    elif role == "worker":
        db, *limit = rest
        NamedWorker(name, db, time_limit=float(limit[0]) if limit else None).start()
    elif role == "forgetful":
        pull, following, every, *last = rest
        kind = ForgetfulLast if last else Forgetful
        kind(name, pull, following, every=int(every)).start()
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
