"""Running user methods on messages: what servers, pipelines and workers share."""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable

import gevent

from .parts.servers import ServerTemplate
from .wire import ErrorRecord, Message

BYTES = (bytes, bytearray, memoryview)


class MethodRunner(ServerTemplate):
    """A server whose messages run its own methods: ``'<serves>.<method>'``.

    A user method takes the payload (``bytes``) and returns the new payload;
    returning ``None`` drops the message (the client is told, so that its
    job can end). An exception becomes an error record that the client
    raises as `greenpylm.RemoteError`; it is logged once per method and
    exception type, then counted. Messages that already carry an error or
    were dropped pass through untouched.
    """

    #: methods of greenpylm's own classes that clients may call (user subclasses' all are)
    remote_methods = frozenset({"echo"})
    #: refuse steps that name another server; subscribers (pipelines, sinks) do
    #: not check: a subscription decides what reaches them, so that in a tee
    #: every branch runs the step's method
    checks_server_name = True

    def __init__(self, name: str, log_level: int | str, messages: int = sys.maxsize,
                 pipelined: bool = False, **options: Any) -> None:
        super().__init__(name, log_level, **options)
        self.serves = name  # the server name steps must carry to run here
        self.pipelined = pipelined
        self.messages = messages
        self.message: Message | None = None
        self._handled = 0
        self._reported: set[tuple[str, str]] = set()

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
        if method not in self.remote_methods and any(
                method in vars(k) for k in type(self).__mro__ if k.__module__.startswith("greenpylm.")):
            return None  # the framework's own methods (start, stop, set...) are not for clients
        function = getattr(self, method, None)
        return function if callable(function) else None

    def methods(self) -> list[str]:
        """The names clients may call on this server."""
        return sorted(n for n in dir(self) if self.user_method(n) is not None)

    def execute(self, message: Message) -> list[Message]:
        """Apply the step `message` asks for; the messages carrying the outcome."""
        if message.error is None and not message.dropped:
            out = self.apply(message)
        else:
            out = [message]
        self._handled += 1
        if self._handled == self.messages:
            self.log.info("handled {} messages, stopping", self._handled)
            gevent.spawn(self.stop)
        return out

    def apply(self, message: Message) -> list[Message]:
        step = message.current_step()
        server, _, method = step.partition(".")
        if server != self.serves and self.checks_server_name:
            return [self._fail(message, "WrongServer",
                               f"this is {self.serves!r}; it cannot run {step!r}")]
        function = self.user_method(method)
        if function is None:
            return [self._fail(message, "UnknownMethod",
                               f"{self.serves!r} has no method {method!r} "
                               f"(it has: {', '.join(self.methods())})")]
        self.message = message
        try:
            result = function(message.payload)
            return self.outcome(message, method, result)
        except Exception as exc:
            return [self.failed(message, method, exc)]

    def outcome(self, message: Message, method: str, result: Any) -> list[Message]:
        """The messages for what `method` returned: a payload, or None (dropped)."""
        if result is None:
            message.dropped = True
            message.payload = b""
        elif isinstance(result, BYTES):
            message.payload = result
        else:
            return [self._fail(message, "TypeError",
                               f"{self.serves}.{method} returned {type(result).__name__}, "
                               "not bytes")]
        return [message]

    def failed(self, message: Message, method: str, exc: Exception) -> Message:
        """`message` carrying the error `exc` raised by user code."""
        exc.with_traceback(exc.__traceback__.tb_next)  # start the traceback in user code
        self.stats["errors"] += 1
        key = (method, type(exc).__name__)
        if key not in self._reported:
            self._reported.add(key)
            self.log.opt(exception=exc).error(
                "{}.{} raised {}; the client gets it as RemoteError, further ones are counted",
                self.serves, method, type(exc).__name__)
        message.error = ErrorRecord.from_exception(exc)
        message.payload = b""
        return message

    @staticmethod
    def _fail(message: Message, kind: str, text: str) -> Message:
        message.error = ErrorRecord(kind, text)
        message.payload = b""
        return message


class FanOutRunner(MethodRunner):
    """A `MethodRunner` whose methods may return an iterable of payloads:
    each one goes on as a message of its own (same id, so it answers the
    same call). An empty iterable drops the message."""

    def outcome(self, message: Message, method: str, result: Any) -> list[Message]:
        if result is None or isinstance(result, BYTES):
            return super().outcome(message, method, result)
        if not isinstance(result, Iterable):
            return super().outcome(message, method, result)
        out = []
        try:
            for item in result:
                if not isinstance(item, BYTES):
                    out.append(self._fail(message.reply(), "TypeError",
                                          f"{self.serves}.{method} yielded "
                                          f"{type(item).__name__}, not bytes"))
                    break
                out.append(message.reply(item))
        except Exception as exc:
            out.append(self.failed(message.reply(), method, exc))
        if not out:
            message.dropped = True
            message.payload = b""
            out.append(message)
        return out

