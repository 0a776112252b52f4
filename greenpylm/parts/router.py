"""The router: the routing table between a server's inbound and outbound parts.

Standard parts talk to the router in memory: an inbound part hands every
message to `Router.route`, which calls the ``handle`` of the outbound part
its route names; nothing between router and parts is a socket or
serialized. Bypass parts never talk to the router.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from ..wire import Message


class Handles(Protocol):
    """What the router needs of an outbound part."""

    name: str
    outbox: Any

    def handle_batch(self, messages: list[Message]) -> list[Message | None]: ...

    def send_queued(self) -> None: ...

    def feedback(self, message: Message) -> Iterable[Message]: ...

    def pass_on(self, hook: Any, messages: Iterable[Message], into: list) -> None: ...

    def hook_failed(self, exc: Exception, what: str = "") -> None: ...


@dataclass
class RouteEntry:
    """One row of the routing table."""

    route: str = ""
    block: bool = False


class Router:
    """The routing table between inbound and outbound parts.

    An inbound part names the outbound part its messages go to (`route`);
    an outbound part may name another outbound part that receives its
    feedback (a reroute happens once: rerouted feedback is not rerouted
    again); a blocking inbound part gets the feedback back from `route`.

    Messages are handed over in memory, so pylm's parameters (the addresses
    of its router's sockets, `logger`, `cache`, `messages`) are accepted and
    kept, but nothing is bound; the `log` of a route (pylm's name for its
    broker's log lines) is accepted and unused: parts log through loguru.
    """

    def __init__(self, inbound_address: str = "inproc://inbound",
                 outbound_address: str = "inproc://outbound", logger: Any = None,
                 cache: Any = None, messages: int = sys.maxsize) -> None:
        self.inbound_address, self.outbound_address = inbound_address, outbound_address
        self.logger, self.cache, self.messages = logger, cache, messages
        self.inbound: dict[str, RouteEntry] = {}
        self.outbound: dict[str, RouteEntry] = {}
        self.parts: dict[str, Handles] = {}

    def register_inbound(self, name: str, route: str = "", block: bool = False, log: str = "") -> None:
        """Inbound part `name` sends to outbound part `route`; with `block` it gets the feedback."""
        self.inbound[name] = RouteEntry(route, block)

    def register_outbound(self, name: str, route: str = "", log: str = "",
                          part: Handles | None = None) -> None:
        """Outbound part `name` (the `part` itself, which routes hand messages
        to); its feedback, if any, goes on to outbound part `route`."""
        self.outbound[name] = RouteEntry(route, False)
        if part is not None:
            self.parts[name] = part

    def check(self) -> None:
        """Raise `ValueError` for a route that names no outbound part."""
        for table in (self.inbound, self.outbound):
            for name, entry in table.items():
                if entry.route and entry.route not in self.parts:
                    raise ValueError(f"part {name!r} routes to {entry.route!r}, "
                                     f"which is not a registered outbound part")

    def flush(self) -> None:
        """Send what the outbound parts have queued (a producer's burst is over)."""
        for part in self.parts.values():
            if part.outbox:
                part.send_queued()

    def emit(self, outbound: str, messages: list[Message]) -> None:
        """Hand on what the peers of outbound part `outbound` answered (a master's
        workers, HTTP workers): each through that part's `feedback` hook, to the
        part its route names; then send. The one door for results that arrive later."""
        part = self.parts[outbound]
        target = self.outbound[outbound].route
        if not target:
            raise ValueError(f"{outbound!r} has answers to hand on but no route for them")
        out: list[Message] = []
        part.pass_on(part.feedback, messages, out)
        if out:
            try:
                self.parts[target].handle_batch(out)
            except Exception as exc:  # a bug on the way on must not stop the part
                part.hook_failed(exc, f"handing answers on to {target}")
        self.flush()

    def route(self, inbound: str, messages: list[Message]) -> list[Message | None]:
        """Deliver `messages` from part `inbound`, all at once; the feedback of each
        if the part blocks (else nothing). Feedback is rerouted once."""
        entry = self.inbound[inbound]
        if not entry.route:
            return []
        feedback = self.parts[entry.route].handle_batch(messages)
        reroute = self.outbound[entry.route].route
        answers = [f for f in feedback if f is not None] if reroute else None
        if answers:
            self.parts[reroute].handle_batch(answers)
        return feedback if entry.block else []
