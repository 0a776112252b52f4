"""Services: parts that *bind* their socket, the endpoints of a server."""
from __future__ import annotations

import json
import time

from ..wire import ErrorRecord, Message
from .inbound import BypassInbound
from .endpoints import PubPart, PullPart, PushPart, RepPart, RequestReplyPart
from .ledger import WorkerPullService, WorkerPushService

__all__ = ["CacheService", "PubService", "PullService", "PushService", "RepService",
           "WorkerPullService", "WorkerPushService"]


class PullService(PullPart):
    """Binds a PULL socket; what clients push is routed on (inbound)."""

    bind = True


class PushService(PushPart):
    """Binds a PUSH socket; the router's messages go to whoever connects (outbound)."""

    bind = True


class PubService(PubPart):
    """Binds an XPUB socket; publishes by topic, welcomes subscribers (outbound)."""

    bind = True


class RepService(RepPart):
    """Binds a request/reply socket; each request is routed and answered (blocking inbound)."""

    bind = True


class CacheService(RequestReplyPart, BypassInbound):
    """Exposes the server's key-value cache to clients and workers (bypass).

    A request is a message whose `function` ends in ``.set``, ``.get`` or
    ``.delete``, with the key in `cache` and the value in `payload`. `set`
    and `delete` answer with the key, `get` with the value; a missing key is
    an error record of type ``KeyError``. ``.stats`` (no key) answers the
    server's statistics as a JSON object (see `statistics`).
    """

    bind = True

    def answer(self, messages: list[Message]) -> list[Message]:
        """One reply per request."""
        return [self.apply(m) for m in messages]

    def apply(self, request: Message) -> Message:
        """The reply to one cache request."""
        cache = self.server.cache
        operation = request.function.rpartition(".")[2]
        key = request.cache
        if operation in ("set", "delete") and key in self.server.address_keys | {"name": None}:
            return request.reply(error=ErrorRecord(
                "PermissionError", f"{key!r} is the server's own configuration: read-only"))
        if operation == "set":
            if not key:
                return request.reply(error=ErrorRecord("ValueError", "set needs a key"))
            cache[key] = bytes(request.payload)
            return request.reply(key.encode())
        if operation == "stats":
            return request.reply(json.dumps(self.statistics(), sort_keys=True).encode())
        if operation in ("get", "delete"):
            if key not in cache:
                return request.reply(error=ErrorRecord("KeyError", f"no key {key!r} in the cache"))
            value = cache[key] if operation == "get" else cache.pop(key)
            return request.reply(value if operation == "get" else key.encode())
        return request.reply(error=ErrorRecord(
            "ValueError", f"the cache service knows set, get, delete and stats, not {operation!r}"))

    def statistics(self) -> dict:
        """The server's name, uptime, message counts, work in flight at its
        workers (a master's) and every raw counter."""
        server = self.server
        stats = server.stats
        pushers = [p for p in server.outbound_components.values()
                   if isinstance(p, WorkerPushService)]
        started = getattr(server, "started_at", 0.0)
        return {
            "name": server.name,
            "uptime_s": round(time.time() - started, 3) if started else 0.0,
            "messages_in": stats.get("in", 0),
            "messages_out": stats.get("out", 0),
            "errors": stats.get("errors", 0),
            "in_flight": sum(len(p.held) for p in pushers),
            "workers_seen": sorted(w.name for p in pushers for w in p.workers.values()),
            "counters": {str(k): v for k, v in stats.items()},
        }
