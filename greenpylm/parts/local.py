"""Calls made inside a server, in memory: what an HTTP gateway calls its server with.

`PendingCalls` is the waiting half, written once: a call sends a message
and waits until its answer is handed back. `LocalCalls` calls a server as a
client would over its sockets, without them: the request goes to the part
clients push to, the answer comes back from the publisher's lane for this
caller (no socket, no serialization, no client object).
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

import gevent
from gevent.event import AsyncResult
from gevent.timeout import Timeout

from ..wire import CallTimeout, Message
from .part import Host


class PendingCalls:
    """Calls in flight, each waiting for the answer with its message's id."""

    def __init__(self) -> None:
        #: the client id the calls' messages carry (their answers' topic)
        self.client_id = str(uuid.uuid4())
        self._waiting: dict[bytes, AsyncResult] = {}

    def call(self, deliver: Callable[[Message], Any], function: str, payload: bytes,
             timeout: float | None = None) -> Any:
        """Send one message with `deliver` (in a greenlet of its own: the work goes
        on if the caller stops waiting) and wait for its answer, as
        `Client.eval` does: the payload, None if dropped; `RemoteError`, or
        `CallTimeout` after `timeout` seconds."""
        message = Message(function, payload, client=self.client_id, pipeline=self.client_id)
        message.lane = self.client_id
        answer = self._waiting[message.id] = AsyncResult()
        try:
            gevent.spawn(deliver, message)
            try:
                reply = answer.get(timeout=timeout)
            except Timeout:
                raise CallTimeout(f"no answer to {function!r} within {timeout}s") from None
        finally:
            self._waiting.pop(message.id, None)
        if reply.error is not None:
            raise reply.error.to_exception()
        return None if reply.dropped else reply.payload

    def answered(self, messages: list[Message]) -> None:
        """Answers to calls in flight (a late one, to a call that gave up, is dropped)."""
        for message in messages:
            waiting = self._waiting.get(message.id)
            if waiting is not None:
                waiting.set(message)


class LocalCalls:
    """Calls `server` in memory: requests go to the inbound part it advertises as
    its ``pull_address`` (in the caller's greenlet), answers come from the
    publisher it advertises as its ``pub_address``."""

    def __init__(self, server: Host) -> None:
        self.entry = server.address_keys.get("pull_address")
        self.publisher = server.address_keys.get("pub_address")
        if self.entry is None or getattr(self.publisher, "lanes", None) is None:
            raise ValueError(f"server {server.name!r} has no pull and pub parts advertised "
                             "to call it through (a gateway on a part-built server needs "
                             "a GatewayRouter)")
        self.calls = PendingCalls()
        self.publisher.lanes[self.calls.client_id] = self.calls.answered

    def eval(self, function: str, payload: bytes, timeout: float | None = None) -> Any:
        """As `PendingCalls.call`."""
        return self.calls.call(self.entry.accept, function, payload, timeout)

    def close(self) -> None:
        """No more answers for this caller."""
        self.publisher.lanes.pop(self.calls.client_id, None)
