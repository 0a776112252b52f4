"""Access to a server's cache service, shared by clients and workers."""
from __future__ import annotations

import functools
import operator
import time
import uuid
from typing import Any

import zmq.green as zmq
from gevent.lock import Semaphore
from zmq.utils.monitor import parse_monitor_message

from .log import Occurrences, get_logger
from .wire import CallTimeout, Message, MissingKeyError, ProtocolError, decode, encode
from .wire import links
from .wire.curve import HANDSHAKE_FAILURES, KEY_VARIABLE, AuthenticationFailed
from .wire.transport import deadline_after, has_input, recv_frames, send_frames, wait_readable

#: seconds between looks for a refused handshake while an answer is awaited
LOOK = 0.25
#: seconds a client or worker waits for its server the first time (None: for ever)
CONNECT_TIMEOUT = 30.0
WAIT_NOTICE = 3.0  # seconds without an answer after which the wait is logged, once
HANDSHAKE_EVENTS = functools.reduce(operator.or_, HANDSHAKE_FAILURES)  # the monitor's mask


class CacheClient:
    """`set`, `get` and `delete` on the cache service at `db_address`.

    One DEALER socket, REP-compatible envelope; replies are matched to
    requests by message id, so a reply that arrives after its request timed
    out is ignored instead of answering the next request.
    """

    def __init__(self, server_name: str, db_address: str, context: Any, sender: str,
                 session: str = "", log: Any = None, keys: Any = None) -> None:
        self.server_name = server_name
        self.db_address = db_address
        self.context = context
        self.sender = sender
        self.session = session  # the keys of a session are its own, on the server
        self.keys = keys  # the cluster's CURVE keys (`wire.curve.cluster_keys`), or None
        self._monitor: Any = None  # tells a refused handshake from a server that is not there
        self.log = log or get_logger(server_name, "cache-client")
        self.problems = Occurrences(self.log)
        self._socket: Any = None
        self._busy = Semaphore()  # one request at a time on the socket

    def request(self, operation: str, key: str, value: bytes = b"",
                timeout: float | None = None, config: bool = False) -> bytes:
        """Ask the cache service for `operation` on `key` (of this client's session,
        or with `config` of the server's own entries: its addresses); its answer."""
        deadline = deadline_after(timeout)
        if not self._busy.acquire(timeout=timeout):
            raise CallTimeout(f"the cache client of {self.db_address} stayed busy for {timeout}s")
        try:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            return self._request(operation, key, value, deadline, remaining,
                                 "" if config else self.session)
        finally:
            self._busy.release()

    def _request(self, operation: str, key: str, value: bytes, deadline: float | None,
                 timeout: float | None, session: str) -> bytes:
        if self._socket is None:
            self._socket = links.new_socket(self.context, zmq.DEALER)
            self._monitor = self._socket.get_monitor_socket(HANDSHAKE_EVENTS)
            links.connect(self._socket, self.db_address, self.keys)
        request = Message(f"{self.server_name}.{operation}", value, client=self.sender, cache=key,
                          pipeline=session)
        send_frames(self._socket, [b""] + encode([request]))
        sent = time.monotonic()
        while True:
            now = time.monotonic()
            if not wait_readable(self._socket, min(deadline or now + LOOK, now + LOOK)):
                self._check_handshakes()
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise CallTimeout(f"no answer from the cache service at {self.db_address} "
                                      f"to {operation} {key!r} within {timeout:.3g}s (is "
                                      f"{self.server_name!r} up, and is that its db address?)")
                if now - sent > WAIT_NOTICE:
                    self.problems.note("waiting", "no answer yet from the cache service of {!r} "
                                       "at {} (is the server up?); still waiting{}",
                                       self.server_name, self.db_address, "" if deadline is None
                                       else f" for {deadline - now:.3g} s", level="INFO")
                continue
            frames = recv_frames(self._socket)
            try:
                replies = decode(frames[1:])
            except ProtocolError as exc:
                if exc.kind == "bad-version":
                    raise  # a server of another greenpylm version: nothing it says will do
                self.problems.note(exc.kind, "ignoring a malformed cache reply: {}", exc)
                continue
            for reply in replies:
                if reply.id != request.id:
                    continue
                if reply.error is None:
                    return reply.payload
                if reply.error.type == "KeyError":
                    raise MissingKeyError(reply.error.type, reply.error.message)
                raise reply.error.to_exception()

    def set(self, value: bytes, key: str | None = None, *, timeout: float | None = None) -> str:
        """Store `value` under `key` (a fresh one if None); the key."""
        key = key or str(uuid.uuid4())
        self.request("set", key, value, timeout)
        return key

    def get(self, key: str, *, timeout: float | None = None) -> bytes:
        """The value under `key`; `MissingKeyError` (a `KeyError`) if there is none."""
        return self.request("get", key, b"", timeout)

    def delete(self, key: str, *, timeout: float | None = None) -> str:
        """Remove `key`; `MissingKeyError` if it was not there."""
        self.request("delete", key, b"", timeout)
        return key

    def _check_handshakes(self) -> None:
        """Raise `AuthenticationFailed` if the server refused this client's handshake."""
        while has_input(self._monitor):
            event = parse_monitor_message(self._monitor.recv_multipart())["event"]
            if event in HANDSHAKE_FAILURES:
                raise AuthenticationFailed(
                    f"the server at {self.db_address} refused the handshake "
                    f"(authentication failed: {HANDSHAKE_FAILURES[event]}); every process of "
                    f"a cluster needs the same key (key=... or ${KEY_VARIABLE})")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.disable_monitor()
            self._monitor.close(0)
            self._socket.close()
            self._socket = self._monitor = None


class UsesCache:
    """`set`, `get` and `delete` on the cache a class reaches through its
    `cache_client` (a server's for a client, the master's for a worker)."""

    cache_client: CacheClient | None

    def _cache(self) -> CacheClient:
        if self.cache_client is None:
            raise ValueError(f"this {type(self).__name__} was given no db_address")
        return self.cache_client

    def set(self, value: bytes, key: str | None = None, *, timeout: float | None = None) -> str:
        """Store `value` under `key` (a fresh one if None) in the cache; the key."""
        return self._cache().set(value, key, timeout=timeout)

    def get(self, key: str, *, timeout: float | None = None) -> bytes:
        """The value stored under `key`; `MissingKeyError` (a `KeyError`) if there is none."""
        return self._cache().get(key, timeout=timeout)

    def delete(self, key: str, *, timeout: float | None = None) -> str:
        """Remove `key` from the cache; `MissingKeyError` if it was not there."""
        return self._cache().delete(key, timeout=timeout)
