"""High-level servers, with pylm's names, signatures and hooks.

A `Server` is a `ServerTemplate` with three parts: a cache service on
``db_address``, a pull service on ``pull_address`` whose messages run the
user's method, and a pub service on ``pub_address`` that publishes each
result under the topic `Server.handle_stream` gives it.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import gevent

from .log import DEFAULT_LEVEL
from .parts.services import CacheService, PubService, PullService
from .parts.servers import ServerTemplate
from .wire import ErrorRecord, Message


class Server(ServerTemplate):
    """A standalone server: clients call its methods, ``'name.method'``.

    A user method takes the payload (``bytes``) and returns the new payload
    (``bytes``); returning ``None`` drops the message. An exception becomes
    an error record that the client raises as `greenpylm.RemoteError`; the
    server logs it once per method and exception type and goes on.
    With ``pipelined=True`` results are published under the server's name,
    for a `Pipeline` subscribed to it, instead of to the calling client.
    """

    #: methods of this class (not of subclasses) that clients may call
    remote_methods = frozenset({"echo"})

    def __init__(self, name: str, db_address: str, pull_address: str, pub_address: str,
                 pipelined: bool = False, log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, **options: Any) -> None:
        super().__init__(name, log_level, **options)
        self.pipelined = pipelined
        self.messages = messages
        self.message: Message | None = None
        self._handled = 0
        self._reported: set[tuple[str, str]] = set()
        pull = self.register_inbound(PullService, "Pull", pull_address, route="Pub", **options)
        pub = self.register_outbound(PubService, "Pub", pub_address, **options)
        self.register_bypass(CacheService, "Cache", db_address, **options)
        self.preset_cache(name=name, db_address=db_address, pull_address=pull_address,
                          pub_address=pub_address)
        pull.scatter = self.execute
        pub.handle_stream = self.handle_stream

    # -- hooks (pylm's) ---------------------------------------------------
    def handle_stream(self, message: Message) -> tuple[str, Message]:
        """The topic a result is published under, and the message.

        Pipelined, the topic is the server's name (the next server subscribes
        to it) and the message moves on to its next stage; otherwise the topic
        is the id of the calling client. An override that sends messages down
        a pipeline increments `message.stage` itself, as in pylm.
        """
        if self.pipelined:
            message.stage += 1
            return self.name, message
        return message.client, message

    @staticmethod
    def change_payload(message: Message, payload: bytes) -> Message:
        """`message` with its payload replaced (for `handle_stream` and friends)."""
        message.payload = payload
        return message

    def echo(self, payload: bytes) -> bytes:
        """Return the payload unchanged."""
        return payload

    # -- running user code -----------------------------------------------
    def user_method(self, method: str) -> Callable[[bytes], Any] | None:
        """The user method called `method`, or None if clients may not call it."""
        if not method or method.startswith("_"):
            return None
        if hasattr(Server, method) and method not in self.remote_methods:
            return None
        function = getattr(self, method, None)
        return function if callable(function) else None

    def methods(self) -> list[str]:
        """The names clients may call on this server."""
        return sorted(n for n in dir(self) if self.user_method(n) is not None)

    def execute(self, message: Message) -> list[Message]:
        """Apply the step `message` asks for; the message carrying the outcome."""
        if message.error is None and not message.dropped:
            self.apply(message)
        self._handled += 1
        if self._handled == self.messages:
            self.log.info("handled {} messages, stopping", self._handled)
            gevent.spawn(self.stop)
        return [message]

    def apply(self, message: Message) -> None:
        """Run the user method on `message`, recording result, drop or error in it."""
        step = message.current_step()
        server, _, method = step.partition(".")
        if server != self.name:
            message.error = ErrorRecord(
                "WrongServer", f"this is server {self.name!r}; it cannot run {step!r}")
            return
        function = self.user_method(method)
        if function is None:
            message.error = ErrorRecord(
                "UnknownMethod", f"server {self.name!r} has no method {method!r} "
                f"(it has: {', '.join(self.methods())})")
            return
        self.message = message
        try:
            result = function(message.payload)
        except Exception as exc:
            exc.with_traceback(exc.__traceback__.tb_next)  # start the traceback in user code
            self._report(method, exc)
            message.error = ErrorRecord.from_exception(exc)
            message.payload = b""
            return
        if result is None:
            message.dropped = True
            message.payload = b""
        elif isinstance(result, (bytes, bytearray, memoryview)):
            message.payload = result
        else:
            message.error = ErrorRecord(
                "TypeError", f"{self.name}.{method} returned {type(result).__name__}, not bytes")
            message.payload = b""

    def _report(self, method: str, exc: Exception) -> None:
        self.stats["errors"] += 1
        key = (method, type(exc).__name__)
        if key not in self._reported:
            self._reported.add(key)
            self.log.opt(exception=exc).error(
                "{}.{} raised {}; the client gets it as RemoteError, further ones are counted",
                self.name, method, type(exc).__name__)
