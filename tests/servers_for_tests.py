"""Servers that tests run as separate processes: `python tests/servers_for_tests.py NAME ...`."""
from __future__ import annotations

import sys

from greenpylm.servers import Server


class EchoServer(Server):
    """Methods that exercise results, errors and drops."""

    def foo(self, payload: bytes) -> bytes:
        return b"you sent me " + payload

    def fail(self, payload: bytes) -> bytes:
        raise ValueError("fail was asked to fail: " + payload.decode(errors="replace"))

    def drop(self, payload: bytes) -> None:
        return None

    def number(self, payload: bytes) -> int:
        return 42


def main() -> None:
    name, db, pull, pub = sys.argv[1:5]
    level = sys.argv[5] if len(sys.argv) > 5 else "INFO"
    EchoServer(name, db, pull, pub, log_level=level).start()


if __name__ == "__main__":
    main()
