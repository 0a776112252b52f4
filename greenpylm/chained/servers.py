"""Chained servers, with pylm's names: `Server` (a step that pushes on) and `LastServer`.

A message's `function` lists its steps, one per server of the chain; each
server applies the step at the message's `stage` and moves it on. A step is
a method of the server (pylm's form: the client names the first server's
method and each server's `next_call` names the next one's), or a callable
the client shipped. A `Server` or `LastServer` made without a subclass is a
generic step: it applies whatever it is shipped.
"""
from __future__ import annotations

import sys
from typing import Any

from ..log import DEFAULT_LEVEL
from ..methods import MethodRunner
from ..parts.connections import PushConnection
from ..parts.services import CacheService, PullService
from ..wire import Message


class Server(MethodRunner):
    """Pulls on `pull_address`, applies its step, pushes to `next_address`.

    `next_call` names the method the next server runs when the client gave
    no step for it (pylm's chained form); it may be empty for a chain whose
    steps the client gives (names or shipped callables).
    """

    #: the chain, not the name in a step, decides which server runs it
    checks_server_name = False

    def __init__(self, name: str, pull_address: str, next_address: str, next_call: str = "",
                 db_address: str = "", log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, **options: Any) -> None:
        super().__init__(name, log_level, messages, **options)
        self.next_call = next_call
        pull = self.register_inbound(PullService, "Pull", pull_address, route="Push", **options)
        self.register_outbound(PushConnection, "Push", next_address, **options)
        self.preset_cache(name=name, next_address=next_address)
        self.advertise("pull_address", pull)
        if db_address:
            self.advertise("db_address",
                           self.register_bypass(CacheService, "Cache", db_address, **options))
        pull.scatter = self.execute

    def execute(self, message: Message) -> list[Message]:
        out = super().execute(message)
        for m in out:
            m.stage += 1
            if m.stage >= len(m.steps()) and self.next_call:
                m.function = f"{m.function} .{self.next_call}"
        return out


class LastServer(Server):
    """The end of a chain: applies its step and pushes the result to the
    client's `pull_address` (given here as `push_address`)."""

    def __init__(self, name: str, pull_address: str, push_address: str, db_address: str = "",
                 log_level: int | str = DEFAULT_LEVEL, messages: int = sys.maxsize,
                 **options: Any) -> None:
        super().__init__(name, pull_address, push_address, "", db_address, log_level, messages,
                         **options)
