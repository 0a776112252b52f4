"""Connections: parts that *connect* their socket, the client side of a link."""
from __future__ import annotations

from .endpoints import PullPart, PushPart, RepPart, SubPart
from .http import HttpConnection
from .worker_connection import WorkerConnection

__all__ = ["HttpConnection", "PullConnection", "PushConnection", "RepConnection", "SubConnection",
           "WorkerConnection"]


class PullConnection(PullPart):
    """Connects a PULL socket to a peer's PUSH and routes what arrives (inbound)."""

    bind = False


class PushConnection(PushPart):
    """Connects a PUSH socket to a peer's PULL and sends the router's messages (outbound)."""

    bind = False


class SubConnection(SubPart):
    """Connects a SUB socket to a peer's PUB, subscribed to option `topic` (inbound)."""

    bind = False


class RepConnection(RepPart):
    """Connects a request/reply socket to a peer that sends requests (blocking inbound)."""

    bind = False
