"""`ListenerWatch`: what zmq tells of a bound tcp or ipc socket.

Two things only zmq's socket monitor knows: that a peer failed the CURVE
handshake before the ZAP handler ever saw it (a plain peer, another
cluster's key), and that zmq's I/O thread has released the bound address
after the socket closed. One monitor per socket gives both.
"""
from __future__ import annotations

import os
from typing import Any, Protocol

import gevent
import gevent.event
import zmq
from zmq.utils.monitor import parse_monitor_message

#: why a peer failed the handshake with a CURVE server, by zmq's protocol error
REFUSALS = {
    int(zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH): ("plain", "it has no key (a plain peer)"),
    int(zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC): ("other-key", "its key is not this cluster's"),
}
HANDSHAKE_EVENTS = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL


class Problems(Protocol):
    """Where refusals are told (`log.Occurrences`: logged once per kind, counted)."""

    def note(self, kind: str, text: str, *args: Any, level: str = "WARNING") -> bool: ...


class ListenerWatch:
    """Watches a bound socket: handshake failures go to `problems` (when the
    socket is a CURVE server), and `close` returns once the address is free."""

    def __init__(self, socket: Any, address: str, problems: Problems, secured: bool) -> None:
        self.address = address
        self.problems = problems
        self.released = gevent.event.Event()
        self.monitor = socket.get_monitor_socket(
            zmq.EVENT_CLOSED | (HANDSHAKE_EVENTS if secured else 0))
        self.greenlet = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            event = parse_monitor_message(self.monitor.recv_multipart())
            kind = event["event"]
            if kind == zmq.EVENT_CLOSED:
                self.released.set()
            elif kind == zmq.EVENT_MONITOR_STOPPED:
                self.released.set()
                return
            else:
                name, why = self.refusal(kind, int(event["value"]))
                self.problems.note(f"refused.{name}", "refused a peer on {}: {}",
                                   self.address, why)

    @staticmethod
    def refusal(event: int, value: int) -> tuple[str, str]:
        """The kind of a failed handshake and why it failed, in words."""
        if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:  # the value is an errno
            return "broken", f"the connection broke during the handshake ({os.strerror(value)})"
        return REFUSALS.get(value, ("protocol", f"zmq protocol error {value:#x}"))

    def close(self, socket: Any, timeout: float) -> None:
        """Close `socket` and wait up to `timeout` seconds for zmq to release its address."""
        socket.close()
        self.released.wait(timeout)
        self.greenlet.kill()
        self.monitor.close(0)
