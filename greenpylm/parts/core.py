"""The router and the part base classes.

A server is a `Router` plus parts, each part a greenlet with one
``zmq.green`` socket. Standard parts talk to the router in memory: an
inbound part hands every message to `Router.route`, which calls the
``handle`` of the outbound part its route names; nothing between router
and parts is a socket or serialized. Bypass parts never talk to the router.
"""
from __future__ import annotations

import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import gevent
import zmq.green as zmq
from gevent.event import Event
from gevent.lock import Semaphore

from ..log import HasLogger, get_logger, setup
from ..wire import ErrorRecord, Message, ProtocolError, decode, encode
from ..wire.frames import DEFAULT_MAX_FRAME
from ..wire.transport import recv_frames, send_frames

if TYPE_CHECKING:
    from .servers import ServerTemplate

BATCH_SIZE = 256      # messages at most in one multipart send
OUTBOX_LIMIT = 20000  # messages queued in an outbound part before producers wait
LINGER_MS = 500       # how long a closing outbound socket may flush
CLOSE_WAIT_MS = 1000  # how long closing waits for zmq to release a bound address


@dataclass
class RouteEntry:
    """One row of the routing table."""

    route: str = ""
    block: bool = False
    log: str = ""


def __getattr__(name: str) -> Any:
    """``zmq_context`` (pylm's name): the process's zmq.green context, which
    servers and parts use by default; looked up each time, since a stopped
    `Cluster` terminates it and the next use makes a new one."""
    if name == "zmq_context":
        return zmq.Context.instance()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Router:
    """The routing table between inbound and outbound parts.

    An inbound part names the outbound part its messages go to (`route`);
    an outbound part may name another outbound part that receives its
    feedback (a reroute happens once: rerouted feedback is not rerouted
    again); a blocking inbound part gets the feedback back from `route`.

    Messages are handed over in memory, so pylm's parameters (the addresses
    of its router's sockets, `logger`, `cache`, `messages`) are accepted and
    kept, but nothing is bound.
    """

    def __init__(self, inbound_address: str = "inproc://inbound",
                 outbound_address: str = "inproc://outbound", logger: Any = None,
                 cache: Any = None, messages: int = sys.maxsize) -> None:
        self.inbound_address, self.outbound_address = inbound_address, outbound_address
        self.logger, self.cache, self.messages = logger, cache, messages
        self.inbound: dict[str, RouteEntry] = {}
        self.outbound: dict[str, RouteEntry] = {}
        self.parts: dict[str, "Outbound"] = {}

    def register_inbound(self, name: str, route: str = "", block: bool = False, log: str = "") -> None:
        """Inbound part `name` sends to outbound part `route`; with `block` it gets the feedback."""
        self.inbound[name] = RouteEntry(route, block, log)

    def register_outbound(self, name: str, route: str = "", log: str = "") -> None:
        """Outbound part `name`; its feedback, if any, is rerouted to outbound part `route`."""
        self.outbound[name] = RouteEntry(route, False, log)

    def attach(self, part: "Outbound") -> None:
        """Know the outbound part that routes name."""
        self.parts[part.name] = part

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

    def route(self, inbound: str, message: Message) -> Message | None:
        """Deliver `message` from part `inbound`; the feedback if it blocks."""
        entry = self.inbound[inbound]
        if not entry.route:
            return None
        feedback = self.parts[entry.route].handle(message)
        reroute = self.outbound[entry.route].route
        if reroute and feedback is not None:
            self.parts[reroute].handle(feedback)
        return feedback if entry.block else None


class Part(HasLogger):
    """What every part has: a name, one socket, a greenlet, a logger.

    A service *binds* its socket (`bind` is True), a connection connects.
    The server attaches itself (router, cache, stats, context) before
    `open`; `run` is the greenlet's body.
    """

    socket_type: int = -1
    bind: bool = True

    def __init__(self, name: str, listen_address: str, *, messages: int = sys.maxsize,
                 max_frame: int = DEFAULT_MAX_FRAME, **options: Any) -> None:
        self.name = name
        self.listen_address = listen_address
        self.messages = messages
        self.max_frame = max_frame
        self.options = options
        self.server: "ServerTemplate | None" = None
        self.socket: Any = None
        self.log = get_logger("-", name)

    # -- life cycle -------------------------------------------------------
    def attach(self, server: "ServerTemplate") -> None:
        """Join `server` (router, cache, stats, logger names) before opening."""
        self.server = server
        self.log = get_logger(server.name, self.name)

    def open(self, context: Any) -> None:
        """Create the socket and bind or connect it."""
        self.socket = context.socket(self.socket_type)
        try:
            self.configure(self.socket)
            if self.bind:
                self.socket.bind(self.listen_address)
                if self.listen_address.endswith((":*", ":0")):
                    self.listen_address = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
            else:
                self.socket.connect(self.listen_address)
        except BaseException:
            self.socket.close(0)
            self.socket = None
            raise
        self.log.debug("{} {}", "bound" if self.bind else "connected", self.listen_address)

    def configure(self, socket: Any) -> None:
        """Set socket options before bind/connect; subclasses add theirs."""
        socket.setsockopt(zmq.LINGER, 0)

    def tasks(self) -> list:
        """The functions the server runs as this part's greenlets."""
        return [self.run]

    def run(self) -> None:
        """The body of the part's main greenlet."""
        raise NotImplementedError

    def start(self) -> None:
        """Run this part on its own until it ends or is killed (pylm's parts were
        threads with a `start`). Outside a server it has a host of its own
        (`Alone`): an empty cache, no routes, the process's context."""
        if self.server is None:
            self.attach(Alone(self.name))
        self.open(self.server.context)
        greenlets = [gevent.spawn(task) for task in self.tasks()]
        try:
            gevent.joinall(greenlets, raise_error=True)
        finally:
            gevent.killall(greenlets)
            self.close()

    def stop_intake(self, greenlets: list) -> None:
        """Take no more input; `greenlets` are the part's, the first one reads."""
        if greenlets and greenlets[0] is not gevent.getcurrent():
            greenlets[0].kill()

    def flush(self, timeout: float) -> None:
        """Give queued output up to `timeout` seconds to leave (outbound parts)."""

    def drain(self, timeout: float) -> None:
        """Give the messages in hand up to `timeout` seconds to be handled (inbound parts)."""

    def before_close(self) -> None:
        """Last words on the socket, once intake has stopped and work is done."""

    def close(self) -> None:
        """Close the socket; a bound tcp/ipc address is free again when this returns."""
        if self.socket is None:
            return
        socket, self.socket = self.socket, None
        if not (self.bind and self.listen_address.startswith(("tcp://", "ipc://"))):
            socket.close()
            return
        # zmq closes listeners in its I/O thread: wait for its word that it did
        monitor = socket.get_monitor_socket(zmq.EVENT_CLOSED)
        socket.close()
        try:
            if monitor.poll(CLOSE_WAIT_MS):
                monitor.recv_multipart()
        finally:
            monitor.close(0)

    # -- bad input --------------------------------------------------------
    def bad_input(self, error: ProtocolError) -> None:
        """Count bad input and log it once per kind; the part goes on."""
        stats = self.server.stats if self.server else None
        key = f"bad.{error.kind}"
        if stats is not None:
            stats[key] += 1
            first = stats[key] == 1
        else:
            first = True
        if first:
            self.log.warning("bad input on {} ({}); further input of this kind is only counted",
                             self.listen_address, error)

    def hook_failed(self, exc: Exception, what: str = "") -> None:
        """Count a failure of a hook (user code, often); log it once per exception type."""
        key = f"errors.{self.name}.{type(exc).__name__}"
        stats = self.server.stats
        stats["errors"] += 1
        stats[key] += 1
        if stats[key] == 1:
            self.log.opt(exception=exc).error(
                "{} raised {}; further ones are only counted",
                what or getattr(self.scatter, "__qualname__", "scatter"), type(exc).__name__)

    def decode(self, frames: list) -> list[Message] | None:
        """The messages of `frames`, or None (counted and logged) if malformed."""
        try:
            return decode(frames, self.max_frame)
        except ProtocolError as exc:
            self.bad_input(exc)
            return None

    def encode(self, messages: list[Message]) -> list:
        """`encode`, except that a message that cannot be encoded (a payload
        that is not bytes, say) is replaced by an error reply: never lost."""
        try:
            return encode(messages)
        except (TypeError, ProtocolError):
            return encode([self._encodable(m) for m in messages])

    def _encodable(self, message: Message) -> Message:
        try:
            encode([message])
            return message
        except (TypeError, ProtocolError) as exc:
            self.log.error("cannot send {!r}: {}", message, exc)
            error = ErrorRecord("ProtocolError", f"the result could not be sent: {exc}")
            reply = Message(error=error, id=message.id)
            reply.ticket = message.ticket
            try:  # keep what can be kept of the original, so the reply finds its client
                reply.client, reply.pipeline = message.client, message.pipeline
                encode([reply])
            except (TypeError, ProtocolError):
                reply.client = reply.pipeline = ""
            return reply


class Inbound(Part):
    """A part whose first message comes from outside, towards the router.

    For each message received, `scatter` yields the messages to route
    (by default the message itself); a blocking inbound part passes the
    router's feedback to `handle_feedback`.

    Option `concurrency` (default: the server's `concurrency` attribute, or
    1): how many messages may be in `scatter` at once, each in a handler
    greenlet of its own, so that a step waiting on I/O does not hold up the
    others; with 1 they are handled strictly one at a time, in order. The
    handlers take turns at reading the socket: the one that reads a batch
    handles its first message itself, so a lone request is answered without
    a hand-over between greenlets, and wakes idle ones for the rest and for
    the next read.
    """

    def __init__(self, name: str, listen_address: str, **kw: Any) -> None:
        super().__init__(name, listen_address, **kw)
        self.concurrency = 1
        self._queue: deque = deque()  # read, not handled yet
        self._idle: deque = deque()  # an Event per handler greenlet waiting for work
        self._reader: gevent.Greenlet | None = None  # the handler reading the socket
        self._intake = True
        self._busy = 0  # handlers in the middle of a message
        self._quiet = Event()  # nothing queued, nobody busy
        self._quiet.set()

    def attach(self, server: "ServerTemplate") -> None:
        super().attach(server)
        wanted = self.options.get("concurrency", getattr(server, "concurrency", 1))
        self.concurrency = max(1, int(wanted))

    def tasks(self) -> list:
        return [self.run] * self.concurrency

    def scatter(self, message: Message) -> Iterable[Message]:
        """The messages to route for one received message (the hook masters override)."""
        yield message

    def handle_feedback(self, feedback: Message | None) -> Message | None:
        """What a blocking part makes of the feedback of the part it routed to."""
        return feedback

    def deliver(self, messages: list[Message]) -> list[Message | None]:
        """Route every message scattered from `messages`; their feedback.

        If `scatter` (user code, often) raises, the message goes on as an
        error record, so that its client learns what happened.
        """
        feedback = []
        for message in messages:
            try:
                for out in self.scatter(message):
                    feedback.append(self.forward(out))
            except Exception as exc:
                self.hook_failed(exc)
                failed = message.reply(error=ErrorRecord.from_exception(exc))
                try:
                    feedback.append(self.forward(failed))
                except Exception as again:  # the way on is broken too: count and drop
                    self.hook_failed(again, "routing an error reply")
        return feedback

    def forward(self, message: Message) -> Message | None:
        """Hand one message on: through the router, by default; its feedback."""
        return self.handle_feedback(self.server.router.route(self.name, message))

    def stop_intake(self, greenlets: list) -> None:
        """No handler reads again; the one waiting for input stops waiting."""
        self._intake = False
        reader = self._reader
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill()  # it holds no message while it waits for one

    def drain(self, timeout: float) -> None:
        self._quiet.wait(timeout)

    def after_burst(self) -> None:
        """What received messages were delivered, send on (one hand-over fewer)."""
        self.server.router.flush()

    def run(self) -> None:
        """One handler: handles what is queued, or else reads when no other handler does."""
        queue = self._queue
        wake = Event()
        while True:
            if queue:
                message = queue.popleft()
                self._busy += 1
                try:
                    self.deliver([message])
                finally:
                    self._busy -= 1
                if not queue:
                    self.after_burst()
                    if not self._busy:
                        self._quiet.set()
            elif self._reader is None and self._intake:
                self._read_batch()
            else:
                wake.clear()
                self._idle.append(wake)
                wake.wait()

    def _read_batch(self) -> None:
        self._reader = gevent.getcurrent()
        try:
            messages = self.decode(recv_frames(self.socket))
        finally:
            self._reader = None
        if not messages:
            return
        self.server.stats["in"] += len(messages)
        self._queue.extend(messages)
        self._quiet.clear()
        idle = self._idle
        for _ in range(min(len(messages) - 1, len(idle))):  # this handler takes the first
            idle.popleft().set()
        if idle:
            gevent.get_hub().loop.run_callback(self._keep_reading)

    def _keep_reading(self) -> None:
        """Once the hub runs again, see that a handler reads: if the one that read
        last is busy (its message waits on I/O), wake an idle one."""
        if self._reader is None and self._intake and self._idle:
            self._idle.popleft().set()


class Outbound(Part):
    """A part whose first message goes from the router to the outside.

    `handle` queues a message and returns at once (no feedback); the
    part's greenlet (or the producer, at the end of a burst: `Router.flush`)
    sends what is queued in batches of up to `batch_size` (option;
    `BATCH_SIZE` by default) messages per multipart send. Producers wait
    when `OUTBOX_LIMIT` messages are queued, so memory stays bounded when
    the peer is slow.
    """

    def __init__(self, name: str, listen_address: str, **kw: Any) -> None:
        super().__init__(name, listen_address, **kw)
        self.batch_size = int(self.options.get("batch_size", self.default_batch_size))
        self.outbox: deque = deque()
        self._ready = Event()
        self._space = Event()
        self._space.set()
        self._idle = Event()
        self._idle.set()
        self._wake_due = False
        self._sending = Semaphore()

    default_batch_size = BATCH_SIZE

    def configure(self, socket: Any) -> None:
        socket.setsockopt(zmq.LINGER, LINGER_MS)

    def handle(self, message: Message) -> Message | None:
        """Take one message from the router (queued for sending); no feedback."""
        self.post(message)
        return None

    def post(self, item: Any) -> None:
        """Queue `item` for the sender greenlet, waiting while the outbox is full."""
        while len(self.outbox) >= OUTBOX_LIMIT:
            self._space.clear()
            self._space.wait()
        self.outbox.append(item)
        self._idle.clear()
        if not self._wake_due:
            self._wake_due = True
            gevent.get_hub().loop.run_callback(self._wake)

    def _wake(self) -> None:
        """Once the hub runs again, wake the sender greenlet if the producer did
        not send what it queued itself (`Router.flush`)."""
        self._wake_due = False
        if self.outbox:
            self._ready.set()

    def batches(self, items: list) -> Iterator[list]:
        """The multipart messages that carry `items` (one batch each)."""
        yield self.encode(items)

    def run(self) -> None:
        """Send what producers queue, whenever they do not send it themselves."""
        while True:
            self._ready.wait()
            self._ready.clear()
            self.send_queued()

    def send_queued(self) -> None:
        """Send what is queued, in batches; from the part's greenlet, or from a
        producer that has just finished a burst (one hand-over fewer)."""
        if self._sending.locked():
            return  # another greenlet is at it
        outbox = self.outbox
        with self._sending:
            while outbox:
                items = [outbox.popleft() for _ in range(min(self.batch_size, len(outbox)))]
                self._space.set()
                try:
                    for frames in self.batches(items):
                        send_frames(self.socket, frames)
                except (zmq.ZMQError, gevent.GreenletExit):
                    raise
                except Exception as exc:  # a bug must not stop the part: count, log once
                    self.hook_failed(exc, "sending")
                self.server.stats["out"] += len(items)
            self._idle.set()

    def flush(self, timeout: float) -> None:
        self._idle.wait(timeout)


class Alone:
    """What a part needs of its server, for a part started on its own."""

    def __init__(self, name: str) -> None:
        setup(name)
        self.name = name
        self.context = zmq.Context.instance()
        self.router = Router()
        self.cache: dict[str, bytes] = {}
        self.stats: Counter = Counter()
        self.address_keys: dict[str, Part] = {}
        self.inbound_components: dict[str, Part] = {}
        self.outbound_components: dict[str, Part] = {}
        self.client_factory = None
        self.started_at = time.time()


class BypassInbound(Part):
    """An inbound part that never talks to the router (it answers itself)."""


class BypassOutbound(Part):
    """An outbound part that never talks to the router."""
