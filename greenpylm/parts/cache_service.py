"""`CacheService`: a server's key-value cache (and its statistics) for clients and workers."""
from __future__ import annotations

import json
import time
from typing import Any

from ..wire import ErrorRecord, Message
from .endpoints import RequestReplyPart
from .inbound import BypassInbound

DEFAULT_CACHE_LIMIT = 256 * 1024 * 1024  # bytes of keys and values a server's cache holds


class CacheFull(Exception):
    """Storing a value would take the cache past its byte limit."""


class Cache(dict):
    """A server's key-value store, bounded in bytes: keys are text (a session's
    keys are ``(session, key)``: no session can reach another's), values
    bytes. `size` counts the bytes of every key and value; storing past
    `limit` raises `CacheFull` and stores nothing."""

    def __init__(self, limit: int = DEFAULT_CACHE_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0

    @staticmethod
    def _bytes(key: Any) -> int:
        return sum(len(k.encode()) for k in key) if isinstance(key, tuple) else len(key.encode())

    def __setitem__(self, key: Any, value: bytes) -> None:
        old = self.get(key)
        grow = len(value) - (len(old) if old is not None else -self._bytes(key))
        if grow > 0 and self.size + grow > self.limit:
            raise CacheFull(f"the cache holds {self.size} bytes; {grow} more would pass its "
                            f"limit of {self.limit} (the server's cache_limit)")
        super().__setitem__(key, value)
        self.size += grow

    def __delitem__(self, key: Any) -> None:
        self.pop(key)

    def pop(self, key: Any, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)
        value = super().pop(key)
        self.size -= len(value) + self._bytes(key)
        return value


class CacheService(RequestReplyPart, BypassInbound):
    """Exposes the server's key-value cache to clients and workers (bypass).

    A request is a message whose `function` ends in ``.set``, ``.get`` or
    ``.delete``, with the key in `cache`, the value in `payload` and, for a
    client with a session, the session in `pipeline` (its keys are its own).
    `set` and `delete` answer with the key, `get` with the value; a missing
    key is an error record of type ``KeyError``, a full cache one of type
    ``CacheFull``. ``.stats`` (no key) answers the server's statistics as a
    JSON object (see `statistics`). ``.methods`` answers the methods clients
    may call, with their docstrings: the server's own or, on a master, those
    its workers announced (``.announce``, key: the worker's name, payload: a
    JSON object of method name to docstring).
    """

    bind = True
    ANNOUNCED_KEPT = 4096  # workers whose methods a master remembers

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.announced: dict[str, dict[str, str]] = {}  # worker name -> method -> docstring

    def answer(self, messages: list[Message]) -> list[Message]:
        """One reply per request."""
        return [self.apply(m) for m in messages]

    def apply(self, request: Message) -> Message:
        """The reply to one cache request."""
        cache = self.server.cache
        operation = request.function.rpartition(".")[2]
        key = request.cache
        slot = (request.pipeline, key) if request.pipeline else key
        if operation in ("set", "delete") and slot in self.server.address_keys | {"name": None}:
            return request.reply(error=ErrorRecord(
                "PermissionError", f"{key!r} is the server's own configuration: read-only"))
        if operation == "set":
            if not key:
                return request.reply(error=ErrorRecord("ValueError", "set needs a key"))
            try:
                cache[slot] = bytes(request.payload)
            except CacheFull as exc:
                return request.reply(error=ErrorRecord("CacheFull", str(exc)))
            return request.reply(key.encode())
        if operation == "stats":
            return request.reply(json.dumps(self.statistics(), sort_keys=True).encode())
        if operation == "methods":
            return request.reply(json.dumps(self.methods(), sort_keys=True).encode())
        if operation == "announce":
            return self.announce(request)
        if operation in ("get", "delete"):
            if slot not in cache:
                return request.reply(error=ErrorRecord("KeyError", f"no key {key!r} in the cache"))
            value = cache[slot] if operation == "get" else cache.pop(slot)
            return request.reply(value if operation == "get" else key.encode())
        return request.reply(error=ErrorRecord(
            "ValueError", "the cache service knows set, get, delete, stats, methods and announce, "
            f"not {operation!r}"))

    def announce(self, request: Message) -> Message:
        """A worker tells the methods it runs (its name in the key)."""
        try:
            methods = json.loads(bytes(request.payload))
            if not isinstance(methods, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in methods.items()):
                raise ValueError("expected an object of method names to docstrings")
        except ValueError as exc:
            return request.reply(error=ErrorRecord("ValueError", f"announce: {exc}"))
        self.announced.pop(request.cache, None)
        self.announced[request.cache] = methods
        while len(self.announced) > self.ANNOUNCED_KEPT:
            del self.announced[next(iter(self.announced))]
        return request.reply(request.cache.encode())

    def methods(self) -> dict:
        """The methods clients may call here: the server's own
        (``server.method_docs()``), else those of its workers still joined."""
        server = self.server
        own = getattr(server, "method_docs", None)
        listing: dict[str, dict] = {}
        if own is not None:
            listing = {name: {"doc": doc} for name, doc in own().items()}
        if not listing and self.announced:
            joined = set(self.statistics().get("workers_seen", ()))
            for worker, methods in self.announced.items():
                if worker in joined:
                    for name, doc in methods.items():
                        entry = listing.setdefault(name, {"doc": doc, "workers": []})
                        entry["workers"].append(worker)
        return {"name": server.name, "methods": listing, "from_workers": own is None}

    def statistics(self) -> dict:
        """The server's name, uptime, message counts, what its parts report
        (`Part.gauges`: work at a master's workers, a client link's lanes) and
        every raw counter."""
        server = self.server
        stats = server.stats
        started = getattr(server, "started_at", 0.0)
        parts = (*server.inbound_components.values(), *server.outbound_components.values())
        report = {
            "name": server.name,
            "kind": type(server).__name__,
            "uptime_s": round(time.time() - started, 3) if started else 0.0,
            "messages_in": stats.get("in", 0),
            "messages_out": stats.get("out", 0),
            "errors": stats.get("errors", 0),
            "binds": {key: server.cache[key].decode() for key in server.address_keys
                      if key in server.cache},
            "connects": {p.name: p.listen_address for p in parts if not p.bind},
        }
        histograms: dict = {}
        for figures in (*(p.gauges() for p in parts), server.gauges()):
            histograms.update(figures.pop("histograms", {}))
            report.update(figures)
        report["histograms"] = histograms
        report["counters"] = {str(k): v for k, v in stats.items()}
        return report
