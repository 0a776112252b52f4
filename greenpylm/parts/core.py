"""pylm's module of the router and the part base classes.

A server is a `Router` plus parts, each part a greenlet with one
``zmq.green`` socket. They live in modules of their own: `router`, `part`,
`inbound`, `outbound`; this module gathers them under pylm's names.
"""
from __future__ import annotations

from typing import Any

import zmq.green as zmq

from .inbound import BypassInbound, Inbound
from .outbound import BypassOutbound, Outbound
from .part import Alone, Host, Part
from .router import RouteEntry, Router

__all__ = ["Alone", "BypassInbound", "BypassOutbound", "Host", "Inbound", "Outbound", "Part",
           "RouteEntry", "Router", "zmq_context"]


def __getattr__(name: str) -> Any:
    """``zmq_context`` (pylm's name): the process's zmq.green context, which
    servers and parts use by default; looked up each time, since a stopped
    `Cluster` terminates it and the next use makes a new one."""
    if name == "zmq_context":
        return zmq.Context.instance()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


