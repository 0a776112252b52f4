"""Running user methods on messages: what servers, pipelines and workers share."""
from __future__ import annotations

import functools
import inspect
import os
import sys
import time
from contextvars import ContextVar
from collections.abc import Iterable, Iterator
from typing import Any, Callable

import gevent

from . import offload
from .parts.meter import Latencies
from .parts.servers import ServerTemplate
from .shipping import CodeRefused, Seal
from .shipping.seal import BYTES
from .shipping.cache import DEFAULT_SIZE
from .wire import ErrorRecord, Message

FAN_OUT_YIELD = 100  # items of a fan-out between two yields to the hub
BLOCK_THRESHOLD = 1.0  # seconds a step may hold the hub before it is reported
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONCURRENCY = 1  # pylm's semantics: one message at a time, in order


@functools.lru_cache(maxsize=None)
def framework_names(cls: type) -> frozenset[str]:
    """Names defined by greenpylm's own classes in `cls`'s bases (start, stop,
    set...), but for its `remote_methods`: not for clients."""
    return frozenset(name for k in cls.__mro__ if k.__module__.startswith("greenpylm.")
                     for name in vars(k)) - cls.remote_methods


@functools.lru_cache(maxsize=4096)
def callable_remotely(cls: type, method: str) -> bool:
    """Whether clients may call `method` of a `cls` server: only functions defined
    on the classes (not callables stored on the instance), none of greenpylm's
    own but those in `remote_methods`."""
    return (bool(method) and not method.startswith("_") and method not in framework_names(cls)
            and any(method in vars(k) for k in cls.__mro__))


class MethodRunner(ServerTemplate):
    """A server whose messages run its own methods: ``'<serves>.<method>'``,
    or callables shipped by the client: ``'<serves>.@<digest>'``.

    A user method takes the payload (``bytes``) and returns the new payload;
    returning ``None`` drops the message (the client is told, so that its
    job can end). An exception becomes an error record that the client
    raises as `greenpylm.RemoteError`; it is logged once per method and
    exception type, then counted. Messages that already carry an error or
    were dropped pass through untouched. Up to `concurrency` messages are
    handled at once, each in its own greenlet, so that a step waiting on I/O
    does not hold up the others (1: one at a time, in order). Shipped code runs only if signed
    with this server's `key` (see `greenpylm.shipping`); the server keeps the
    last `callable_cache_size` callables it was shipped.
    """

    #: methods of greenpylm's own classes that clients may call (user subclasses' all are)
    remote_methods = frozenset({"echo"})
    #: refuse steps that name another server; subscribers (pipelines, sinks) do
    #: not check: a subscription decides what reaches them, so that in a tee
    #: every branch runs the step's method
    checks_server_name = True
    #: a method may return an iterable of payloads, each a result of its own
    fans_out = False
    #: results leave in sealed batches (a chain's links, `Part.seal`), which sign
    #: them; they are only `VOUCHED` for here
    sends_sealed = False

    def __init__(self, name: str, log_level: int | str, messages: int = sys.maxsize,
                 pipelined: bool = False, key: bytes | str | None = None,
                 callable_cache_size: int = DEFAULT_SIZE,
                 concurrency: int = DEFAULT_CONCURRENCY,
                 block_threshold: float = BLOCK_THRESHOLD, **template: Any) -> None:
        super().__init__(name, log_level, concurrency=concurrency, key=key, **template)
        #: a step that holds the hub longer than this (seconds) is reported
        self.block_threshold = block_threshold
        self.seal = Seal(key, callable_cache_size)
        self._ready: dict[str, tuple] = {}  # steps resolved: see `_resolve`
        self.serves = name
        self.pipelined = pipelined
        self.messages = messages
        # the message each greenlet is handling (greenlets have contexts of their own)
        self._current: ContextVar[Message | None] = ContextVar(f"{name}.message", default=None)
        self._split: tuple[str | None, list[str]] = (None, [])  # the last function, split
        self._handled = 0
        self.steps = Latencies()  # how long its steps take (user code)

    @property
    def serves(self) -> str:
        """The server name the steps it runs must carry (a worker's is its master's)."""
        return self._serves

    @serves.setter
    def serves(self, name: str) -> None:
        self._serves = name
        self._ready.clear()  # steps were resolved for another name

    @property
    def message(self) -> Message | None:
        """The message being handled (pylm's attribute), as seen by this greenlet."""
        return self._current.get()

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

    def moving_on(self, message: Message, steps: int) -> None:
        """What becomes of a result (of a message of `steps` steps) before it is
        signed and sent on: nothing here; a chained server moves it on to its
        next stage."""

    def publishing(self, message: Message) -> tuple[str, Message]:
        """The publisher's hook: `handle_stream` (yours, or pylm's default); a
        message it moved on a stage is signed again (the stage is signed)."""
        stage = message.stage
        topic, message = self.handle_stream(message)
        if message.stage != stage:
            self.seal.sign(message)
        return topic, message

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
        """The user method called `method`, or None if clients may not call it
        (`callable_remotely`)."""
        function = getattr(self, method, None) if callable_remotely(type(self), method) else None
        return function if callable(function) else None

    def methods(self) -> list[str]:
        """The names clients may call on this server."""
        return sorted(n for n in dir(self) if self.user_method(n) is not None)

    def gauges(self) -> dict:
        """How long its steps take."""
        return {"step": self.steps.summary(),
                "histograms": {"step_seconds": self.steps.cumulative()}}

    def method_docs(self) -> dict[str, str]:
        """The methods clients may call, each with its docstring ('' for none)."""
        return {name: inspect.getdoc(getattr(type(self), name, None)) or ""
                for name in self.methods()}

    def execute(self, message: Message) -> list[Message]:
        """Apply the step `message` asks for; the messages carrying the outcome."""
        function, stage = message.function, message.stage
        if function is not self._split[0]:  # the messages of a batch share the string
            self._split = (function, function.split())
        steps = self._split[1]
        last = stage >= len(steps) - 1
        if message.error is None and not message.dropped:
            out = self.apply(message, steps[stage] if stage < len(steps) else "")
        else:
            out = [message]
        for m in out:
            if last and (m.code is not None or m.digest):
                self.seal.strip(m)  # no later step needs the code
            self.moving_on(m, len(steps))
            self.seal.sign(m, self.sends_sealed)
        self._handled += 1
        if self._handled == self.messages:
            self.log.info("handled {} messages, stopping", self._handled)
            gevent.spawn(self.stop)
        return out

    def apply(self, message: Message, step: str) -> list[Message]:
        """Run `step` (``server.method``, the message's current one) on `message`."""
        ready = self._ready.get(step)
        if ready is None or message.code is not None or (
                ready[2] and self.seal.callables.get(ready[2]) is not ready[3]):
            return self._apply_first(message, step)  # the cache let its callable go, say
        runner, label, digest, _ = ready
        if digest or message.pickled:
            try:
                self.seal.open(message, wanted=digest)
            except CodeRefused as exc:
                return [self._refused(message, exc)]
        return self.run_step(message, runner, label, shipped=bool(digest))

    def _apply_first(self, message: Message, step: str) -> list[Message]:
        """`apply` for a step not resolved yet (or a message carrying code): check
        it, load the code it brings, and keep what running the step takes for
        the next messages (`_resolve`)."""
        server, _, method = step.partition(".")
        if server != self.serves and self.checks_server_name:
            return [self._fail(message, "WrongServer",
                               f"this is {self.serves!r}; it cannot run {step!r}")]
        shipped = method.startswith("@")
        if message.code is not None:
            self.stats["code_frames"] += 1
            self.log.debug("received a code frame of {} bytes", len(message.code))
        loaded = self.seal.callables.loaded
        try:
            digest = bytes.fromhex(method[1:]) if shipped else b""
            self.seal.open(message, wanted=digest)
        except ValueError:
            return [self._fail(message, "UnknownMethod", f"{method!r} is not a digest")]
        except CodeRefused as exc:
            return [self._refused(message, exc)]
        if not shipped:
            function = self.user_method(method)
            if function is None:
                return [self._fail(message, "UnknownMethod",
                                   f"{self.serves!r} has no method {method!r} "
                                   f"(it has: {', '.join(self.methods())})")]
            return self.run_step(message, *self._resolve(step, function, method, b"")[:2],
                                 shipped=False)
        function = self.seal.callables.get(digest)
        if function is None:
            self.problems.note("missing_code", "asked for the code of {} again (not held: "
                               "evicted or restarted)", method[:13], level="INFO")
            return [self._fail(message, "MissingCode",
                               f"{self.name!r} does not hold {method[:13]}...; "
                               "the client sends the code again")]
        label = getattr(function, "__qualname__", method)
        if self.seal.callables.loaded != loaded:
            self.log.info("loaded shipped callable {} ({})", label, method[:13])
        return self.run_step(message, *self._resolve(step, function, label, digest)[:2],
                             shipped=True)

    def _resolve(self, step: str, function: Callable[[Any], Any], label: str, digest: bytes
                 ) -> tuple[Callable[[Any], Any], str, bytes, Callable[[Any], Any]]:
        """Keep what running `step` takes for its next messages: the runner of
        `function`, its label, the digest of its code (b"" for a method) and
        the function (a shipped step is kept while the callable cache holds
        that very callable). As many steps are kept as the cache holds callables."""
        ready = self._ready[step] = (offload.runner(function), label, digest, function)
        while len(self._ready) > self.seal.callables.size:
            del self._ready[next(iter(self._ready))]
        return ready

    def _refused(self, message: Message, exc: CodeRefused) -> Message:
        self.problems.note("refused", "refused shipped code or pickle: {}", exc)
        return self._fail(message, "CodeRefused", str(exc))

    def run_step(self, message: Message, function: Callable[[Any], Any], label: str,
                 shipped: bool) -> list[Message]:
        """Call `function` with the payload (user code): the messages of its outcome.
        A call that holds the hub longer than `block_threshold` is reported."""
        self._current.set(message)
        loop = gevent.get_hub().loop
        iteration, start = loop.iteration, time.perf_counter()
        try:
            return self.outcome(message, label, function(message.payload), shipped)
        except Exception as exc:
            return [self.failed(message, label, exc)]
        finally:
            held = time.perf_counter() - start
            self.steps.add(held)
            if held > self.block_threshold and loop.iteration == iteration:
                self._held_the_hub(label, held)

    def _held_the_hub(self, label: str, seconds: float) -> None:
        """`label` ran for `seconds` without yielding: nothing else here ran meanwhile."""
        self.stats["hub_blocked"] += 1
        self.problems.note(f"hub_blocked.{label}", "{} held the hub for {:.1f} s: nothing else "
                           "in this process ran meanwhile (mark CPU-bound steps with "
                           "greenpylm.offload.in_thread)", label, seconds)

    def outcome(self, message: Message, label: str, result: Any, shipped: bool) -> list[Message]:
        """The messages for what a step returned.

        None drops the message; bytes are the new payload; a shipped callable
        may return any picklable object, or a generator that fans out (so may
        the methods of a runner with `fans_out`, pylm's MuxWorker).
        """
        if result is None:
            message.dropped = True
            message.payload = b""
            return [message]
        if isinstance(result, BYTES):
            message.payload = result
            return [message]
        if (shipped and isinstance(result, Iterator)) or (
                self.fans_out and isinstance(result, Iterable) and not isinstance(result, str)):
            return self.fan_out(message, label, result, shipped)
        if shipped:
            message.payload = result
            return [message]
        return [self._fail(message, "TypeError",
                           f"{label} returned {type(result).__name__}, not bytes")]

    def fan_out(self, message: Message, label: str, results: Iterable, shipped: bool
                ) -> list[Message]:
        """One message per item of `results` (same id: they answer the same call)."""
        out = []
        try:
            for count, item in enumerate(results, 1):
                if count % FAN_OUT_YIELD == 0:
                    gevent.sleep(0)  # a long fan-out lets the rest of the server be served
                if not shipped and not isinstance(item, BYTES):
                    out.append(self._fail(message.reply(), "TypeError",
                                          f"{label} yielded {type(item).__name__}, not bytes"))
                    break
                out.append(message.with_payload(item))
        except Exception as exc:
            out.append(self.failed(message.reply(), label, exc))
        if not out:  # nothing came out: the message ends here
            message.dropped = True
            message.payload = b""
            out.append(message)
        return out

    def failed(self, message: Message, label: str, exc: Exception) -> Message:
        """`message` carrying the error `exc` raised by user code."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            tb = tb.tb_next  # the remote traceback starts in user code
        exc.with_traceback(tb)
        self.stats["errors"] += 1
        self.problems.note(f"errors.{label}.{type(exc).__name__}",
                           "{} raised {}; the client gets it as RemoteError", label,
                           type(exc).__name__, level="ERROR", exception=exc)
        message.error = ErrorRecord.from_exception(exc)
        message.payload = b""
        return message

    @staticmethod
    def _fail(message: Message, kind: str, text: str) -> Message:
        message.error = ErrorRecord(kind, text)
        message.payload = b""
        return message
