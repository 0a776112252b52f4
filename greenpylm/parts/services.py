"""Services: parts that *bind* their socket, the endpoints of a server."""
from __future__ import annotations

from .cache_service import CacheService
from .endpoints import PubPart, PullPart, PushPart, RepPart
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
