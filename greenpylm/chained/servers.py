"""Chained servers, with pylm's names: `Server` (a step that pushes on) and `LastServer`.

A message's `function` lists its steps, one per server of the chain; each
server applies the step at the message's `stage` and moves it on. A step is
a method of the server (pylm's form: the client names the first server's
method and each server's `next_call` names the next one's), or a callable
the client shipped. A `Server` or `LastServer` made without a subclass is a
generic step: it applies whatever it is shipped.

Roles, as in pylm: every chained server binds its `pull_address`; a
`Server` connects to the `next_address` of the next server's pull; a
`LastServer` binds its `push_address`, where the `LoopClient` connects to
take the results.
"""
from __future__ import annotations

import sys
from typing import Any

from ..log import DEFAULT_LEVEL
from ..methods import MethodRunner
from ..parts.connections import PushConnection
from ..parts.services import CacheService, PullService, PushService
from ..wire import Message


class Server(MethodRunner):
    """Pulls on `pull_address` (bound), applies its step, pushes to `next_address`.

    `next_call` names the step the next server runs when the client gave
    none for it: ``'step2.bar'`` as in pylm, or a bare method name ``'bar'``;
    it may be empty for a chain whose steps the client gives (method names or
    shipped callables). With `db_address`, the server binds a cache service.
    """

    #: the chain, not the name in a step, decides which server runs it
    checks_server_name = False
    #: every process of a chain holds the key: its links carry sealed batches
    sends_sealed = True
    #: the part that sends results on: connects to the next server's pull
    next_part: type = PushConnection

    def __init__(self, name: str, pull_address: str, next_address: str, next_call: str = "",
                 db_address: str = "", log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, **options: Any) -> None:
        super().__init__(name, log_level, messages, **options)
        self.next_call = next_call if "." in next_call or not next_call else f".{next_call}"
        pull = self.register_inbound(PullService, "Pull", pull_address, route="Push",
                                     hook=self.execute, seal=self.seal)
        push = self.register_outbound(self.next_part, "Push", next_address, seal=self.seal)
        self.preset_cache(name=name)
        self.advertise("pull_address", pull)
        self.advertise("push_address" if push.bind else "next_address", push)
        if db_address:
            self.advertise("db_address",
                           self.register_bypass(CacheService, "Cache", db_address))

    def moving_on(self, message: Message, steps: int) -> None:
        """The next stage (signed with it); past the last step, `next_call`'s."""
        message.stage += 1
        if self.next_call and message.stage >= steps:
            message.function = f"{message.function} {self.next_call}"


class LastServer(Server):
    """The end of a chain: applies its step and pushes the result on its
    bound `push_address`, where the `LoopClient` takes results from."""

    next_part = PushService

    def __init__(self, name: str, pull_address: str, push_address: str, db_address: str = "",
                 log_level: int | str = DEFAULT_LEVEL, messages: int = sys.maxsize,
                 **options: Any) -> None:
        super().__init__(name, pull_address, push_address, "", db_address, log_level, messages,
                         **options)
