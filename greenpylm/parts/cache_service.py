"""`CacheService`: a server's key-value cache (and its statistics) for clients and workers."""
from __future__ import annotations

import json
import time

from ..wire import ErrorRecord, Message
from .endpoints import RequestReplyPart
from .inbound import BypassInbound


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
        """The server's name, uptime, message counts, what its parts report
        (`Part.gauges`: work at a master's workers, a client link's lanes) and
        every raw counter."""
        server = self.server
        stats = server.stats
        started = getattr(server, "started_at", 0.0)
        report = {
            "name": server.name,
            "uptime_s": round(time.time() - started, 3) if started else 0.0,
            "messages_in": stats.get("in", 0),
            "messages_out": stats.get("out", 0),
            "errors": stats.get("errors", 0),
        }
        for part in (*server.inbound_components.values(), *server.outbound_components.values()):
            report.update(part.gauges())
        report["counters"] = {str(k): v for k, v in stats.items()}
        return report
