"""`Part`: what every part of a server has (a socket, greenlets, a logger, a
life cycle, bad-input accounting), and `Host`, what a part needs of its server."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, Iterable, Protocol

import gevent
import zmq.green as zmq

from ..log import HasLogger, Occurrences, get_logger, setup
from ..shipping import Seal
from ..wire import ErrorRecord, Message, ProtocolError, decode, encode
from ..wire import links
from ..wire.curve import ZapHandler, cluster_keys
from ..wire.frames import DEFAULT_MAX_FRAME
from ..wire.listener import ListenerWatch
from .router import Router

CLOSE_WAIT = 1.0  # seconds closing waits for zmq to release a bound address


class Host(Protocol):
    """What a part needs of the server it belongs to (a `ServerTemplate`, or
    `Alone` for a part started on its own)."""

    name: str
    context: Any
    router: Router
    cache: dict
    stats: Counter
    address_keys: dict
    inbound_components: dict
    outbound_components: dict
    started_at: float
    keys: Any  # the cluster's CURVE keys (`wire.curve.ClusterKeys`), or None

    def gauges(self) -> dict:
        """Live figures of the server itself, for its statistics."""
        ...


class Part(HasLogger):
    """What every part has: a name, one socket, a greenlet, a logger.

    A service *binds* its socket (`bind` is True), a connection connects.
    The server attaches itself (router, cache, stats, context) before
    `open`; `run` is the greenlet's body.
    """

    socket_type: int = -1
    bind: bool = True

    def __init__(self, name: str, listen_address: str, *, messages: int = sys.maxsize,
                 max_frame: int = DEFAULT_MAX_FRAME, hook: Any = None,
                 seal: Seal | None = None) -> None:
        self.name = name
        self.listen_address = listen_address
        #: the server's function this part calls on each message, given where the
        #: part is registered (``register_inbound(..., hook=server.execute)``);
        #: what it does is the part's: see `Inbound.scatter`, `Outbound.feedback`
        self.hook = hook
        self.messages = messages
        self.max_frame = max_frame
        #: the server's `Seal`, on a link whose peers hold the cluster key and
        #: consume what they receive (a chain's): packed batches leave sealed,
        #: and the seals of sealed batches are checked (docs/protocol.md, 3.9)
        self.seal = seal
        self.server: "Host | None" = None
        self.socket: Any = None
        self.listener: ListenerWatch | None = None
        self.log = get_logger("-", name)

    # -- life cycle -------------------------------------------------------
    def attach(self, server: Host) -> None:
        """Join `server` (router, cache, stats, logger names) before opening."""
        self.server = server
        self.log = get_logger(server.name, self.name)

    def open(self, context: Any) -> None:
        """Create the socket and bind or connect it."""
        self.socket = links.new_socket(context, self.socket_type)
        try:
            self.configure(self.socket)
            if self.bind:
                self.listen_address = links.bind(self.socket, self.listen_address,
                                                 self.server.keys, self.frame_limit())
                if self.listen_address.startswith(("tcp://", "ipc://")):
                    self.listener = ListenerWatch(self.socket, self.listen_address, self.problems,
                                               secured=self.server.keys is not None)
            else:
                links.connect(self.socket, self.listen_address, self.server.keys)
        except BaseException:
            self.socket.close(0)
            self.socket = None
            raise
        self.log.debug("{} {}", "bound" if self.bind else "connected", self.listen_address)

    def frame_limit(self) -> int:
        """The largest frame zmq lets in on the bound socket (a larger one drops
        its connection): a message's `max_frame`, with room for its header."""
        return self.max_frame + links.FRAME_SLACK

    def configure(self, socket: Any) -> None:
        """Set socket options before bind/connect (`links.new_socket` made it
        with the liveness options and LINGER 0); subclasses add theirs."""

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
        if self.bind and self.server.keys is not None:
            ZapHandler.ensure(self.server.context, self.server.keys)
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
        listener, self.listener = self.listener, None
        if listener is None:
            socket.close()
        else:  # zmq closes listeners in its I/O thread: wait for its word that it did
            listener.close(socket, CLOSE_WAIT)

    def gauges(self) -> dict:
        """Live figures for the server's statistics (what the part holds, say)."""
        return {}

    # -- bad input --------------------------------------------------------
    @property
    def problems(self) -> Occurrences:
        """Log-the-first, count-the-rest, in the server's statistics."""
        return Occurrences(self.log, self.server.stats if self.server else None)

    def bad_input(self, error: ProtocolError) -> None:
        """Count bad input and log it once per kind; the part goes on."""
        self.problems.note(f"bad.{error.kind}", "bad input on {} ({})", self.listen_address,
                           error)

    def hook_failed(self, exc: Exception, what: str = "") -> None:
        """Count a failure of a hook (user code, often); log it once per exception type."""
        self.server.stats["errors"] += 1
        self.problems.note(f"errors.{self.name}.{type(exc).__name__}", "{} raised {}",
                           what or getattr(self.hook, "__qualname__", "the hook"),
                           type(exc).__name__, level="ERROR", exception=exc)

    def pass_on(self, hook: Any, messages: Iterable[Message], into: list) -> None:
        """Append to `into` the messages `hook` makes of each of `messages`. If the
        hook (user code, often) raises, an error reply follows what it made of
        that message before, so that the client learns what happened."""
        for message in messages:
            try:
                into.extend(hook(message))
            except Exception as exc:
                self.hook_failed(exc)
                into.append(message.reply(error=ErrorRecord.from_exception(exc)))

    def decode(self, frames: list) -> list[Message] | None:
        """The messages of `frames`, or None (counted and logged) if malformed."""
        try:
            return decode(frames, self.max_frame, self.seal)
        except ProtocolError as exc:
            self.bad_input(exc)
            return None

    def encode(self, messages: list[Message]) -> list:
        """`encode`, except that a message that cannot be encoded (a payload
        that is not bytes, or larger than `max_frame`, say) is replaced by an
        error reply: never lost, and its neighbours go on."""
        try:
            if self.seal is not None:
                return self.seal.encode(messages, self.max_frame)
            return encode(messages, self.max_frame, pack=True)
        except (TypeError, ProtocolError):
            return encode([self._encodable(m) for m in messages], pack=True)

    def _encodable(self, message: Message) -> Message:
        try:
            encode([message], self.max_frame)
            return message
        except (TypeError, ProtocolError) as exc:
            kind = exc.kind if isinstance(exc, ProtocolError) else "bad-payload"
            self.problems.note(f"unsendable.{kind}", "cannot send {!r}: {}; an error reply "
                               "goes instead", message, exc, level="ERROR")
            error = ErrorRecord("ProtocolError", f"the result could not be sent: {exc}")
            reply = Message(error=error, id=message.id)
            reply.ticket, reply.lane = message.ticket, message.lane
            try:  # keep what can be kept of the original, so the reply finds its client
                reply.client, reply.pipeline = message.client, message.pipeline
                encode([reply])
            except (TypeError, ProtocolError):
                reply.client = reply.pipeline = ""
            return reply


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
        self.started_at = time.time()
        self.keys = cluster_keys()


