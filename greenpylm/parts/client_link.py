"""`ClientLinkService`: every client its own lane, on a bound ROUTER (see docs/protocol.md).

The part is a server's cache service (requests in a REQ envelope are
answered as `CacheService` answers them) and its clients' link, on one
address that clients know already and that does not move when the server
restarts. A client connects a DEALER and says hello (an empty frame), again
whenever it waits and hears nothing; the part answers with a welcome whose
nonce is new for every connection it has not seen: the client then knows
that what it had outstanding may be lost, and sends it again. Requests are plain batches; the
part marks each message with the lane it came by (`Message.lane`, never on
the wire) and routes it as any inbound part does (a server's ``execute``,
a master's ``scatter``). The answers come back from the server's publisher
(`PubPart.lanes`) and leave on the connection they came by, routed by its
zmq identity: nobody else can read them, and nobody can send into them.

Sends never wait. When the pipe to a client is full (it reads slowly, or
not at all), what it cannot take waits in its lane, already encoded; once a
lane holds `LANE_MESSAGES` messages or `LANE_BYTES` bytes, that client's new
requests are parked (unread, undecoded) until it drains, while the others
are served as before; parked requests run once it drains (past
`PARKED_BYTES`, the lane is dropped: the client's next hello finds a new
one, and it sends again what it had outstanding). A lane whose client is gone (its connection closed,
or silent for `heartbeat_timeout` seconds: zmq heartbeats) is freed with
everything it held.
"""
from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator

import gevent
import zmq.green as zmq
from gevent.event import Event

from ..wire import ErrorRecord, Message, ProtocolError, decode
from ..wire.frames import TAG_BATCH, header_id, version_mismatch, version_refusal, welcome
from ..wire.message import payloads_size
from ..wire.transport import send_frames
from .cache_service import CacheService
from .inbound import Inbound
from .ledger import HEARTBEAT_TIMEOUT
from .part import Host

LANE_MESSAGES = 20_000        # answers a lane holds before its client's requests are parked
LANE_BYTES = 8 * 1024 * 1024  # bytes a lane holds before the same
PARKED_BYTES = 64 * 1024 * 1024  # calls parked per lane; beyond, the lane starts afresh
LANE_HWM = 16                 # batches zmq queues per client, beyond what its lane holds,
INTAKE_HWM = 32               # and batches zmq reads from one client ahead of the part
BATCH_BYTES = 256 * 1024      # a batch of answers ends once its payloads reach this size
RETRY_MIN, RETRY_MAX = 0.001, 0.05  # seconds between tries at a full pipe
SWEEP_EVERY = 30.0            # seconds between looks for quiet clients that are gone
QUEUE_LIMIT = 1024            # calls read, not run yet, beyond which reading waits,
QUEUE_BYTES = 8 * 1024 * 1024  # or their payloads' bytes
SENT, FULL, GONE = "sent", "full", "gone"  # what became of a send that does not wait


@dataclass(eq=False)
class Lane:
    """What the part keeps for one client connection."""

    identity: bytes
    nonce: bytes
    seen: float
    unsent: deque = field(default_factory=deque)  # [identity, batch...] zmq has not taken
    held_messages: int = 0
    held_bytes: int = 0
    parked: deque = field(default_factory=deque)  # request batches, as received
    parked_bytes: int = 0

    @property
    def full(self) -> bool:
        return self.held_messages >= LANE_MESSAGES or self.held_bytes >= LANE_BYTES


class ClientLinkService(Inbound):
    """Binds a ROUTER for greenpylm clients: cache requests answered, calls
    routed in, each client's answers out on its own connection.

    `heartbeat_timeout`: seconds of silence after which a client's
    connection is closed and its lane freed (3).
    """

    socket_type = zmq.ROUTER
    bind = True
    batch_size = 256  # answers at most in one multipart send
    spare_readers = 1  # hellos and cache requests are answered however busy the calls are

    def __init__(self, name: str, listen_address: str, *,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT, **inbound: Any) -> None:
        super().__init__(name, listen_address, **inbound)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.lanes: dict[bytes, Lane] = {}  # by zmq identity
        self.outbox: dict[Lane, list[Message]] = {}  # answers of the burst going on
        self.blocked: set[Lane] = set()  # lanes holding what zmq did not take
        self._blocked = Event()
        self._wake_due = False
        self._drained = Event()  # the handlers caught up with what was read
        self._queued_bytes = 0
        self.publisher: Any = None
        self.cache_service = CacheService(name, listen_address, max_frame=self.max_frame)

    def attach(self, server: Host) -> None:
        """Find the publisher whose answers to this part's clients come back here."""
        super().attach(server)
        self.cache_service.attach(server)
        self.publisher = server.address_keys.get("pub_address")
        if getattr(self.publisher, "lanes", None) is None:
            raise ValueError(f"{self.name} needs the server's publisher advertised as "
                             "pub_address: its answers come back through it")

    def configure(self, socket: Any) -> None:
        super().configure(socket)
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a client that is gone is an error, not a void
        socket.setsockopt(zmq.SNDHWM, LANE_HWM)
        socket.setsockopt(zmq.RCVHWM, INTAKE_HWM)
        timeout_ms = max(1, int(self.heartbeat_timeout * 1000))
        socket.setsockopt(zmq.HEARTBEAT_IVL, max(1, timeout_ms // 3))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, timeout_ms)

    def tasks(self) -> list:
        return [*super().tasks(), self.retry, self.sweep]

    def _read_batch(self, deadline: float | None) -> None:
        while len(self._queue) >= QUEUE_LIMIT or self._queued_bytes >= QUEUE_BYTES:
            self._drained.clear()  # the handlers are behind: zmq holds the rest meanwhile
            self._drained.wait()
        super()._read_batch(deadline)

    def deliver(self, messages: list[Message]) -> list[Message | None]:
        self._queued_bytes -= payloads_size(messages)
        feedback = super().deliver(messages)
        if len(self._queue) < QUEUE_LIMIT // 2 and self._queued_bytes < QUEUE_BYTES // 2:
            self._drained.set()
        return feedback

    def gauges(self) -> dict:
        """Clients connected, and the answers held for those whose pipe is full."""
        return {"clients": len(self.lanes),
                "held_for_clients": sum(lane.held_messages for lane in self.lanes.values())}

    # -- requests -------------------------------------------------------------
    def decode(self, frames: list) -> list[Message] | None:
        """The messages of one client's batch, marked with its lane; None for a
        hello (welcomed), a cache request (answered), bad input, or a batch
        parked for later."""
        identity = frames[0]
        lane = self.lanes.get(identity) or self._open(identity)
        lane.seen = time.monotonic()
        if len(frames) > 1 and not frames[1]:
            if len(frames) == 2:  # a hello
                self._deliver(lane, [identity, *welcome(lane.nonce)])
            else:
                self._deliver(lane, self.cache_service.reply_to(frames))
            return None
        refusal = None if frames[1] == TAG_BATCH else version_refusal(frames[1:])
        if refusal is not None:
            self.bad_input(ProtocolError("bad-version", version_mismatch(frames[1][4])))
            self._deliver(lane, [identity, *refusal])
            return None
        if lane.full or lane.parked:
            self._park(lane, frames)
            return None
        return self._mark(lane, self._decode(lane, frames))

    def _decode(self, lane: Lane, frames: list) -> list[Message] | None:
        """The messages of a lane's batch; a malformed one is answered with an error
        (under the id of its first header, when it has one), never with silence."""
        try:
            return decode(frames[1:], self.max_frame)
        except ProtocolError as exc:
            self.bad_input(exc)
            refusal = Message(error=ErrorRecord("ProtocolError", f"malformed batch: {exc}"),
                              id=header_id(frames[2]) if len(frames) > 2 else None)
            self._deliver(lane, [lane.identity, *self.encode([refusal])])
            return None

    def _mark(self, lane: Lane, messages: list[Message] | None) -> list[Message] | None:
        """`messages` marked with the lane they came by (and counted as queued)."""
        if messages:
            identity = lane.identity
            for message in messages:
                message.lane = identity
            self._queued_bytes += payloads_size(messages)
        return messages

    def _open(self, identity: bytes) -> Lane:
        """The lane of a connection the part has not seen (every peer has one:
        clients, and the cache clients of clients and workers)."""
        lane = self.lanes[identity] = Lane(identity, secrets.token_bytes(8), time.monotonic())
        self.publisher.lanes[identity] = self.take
        return lane

    def _park(self, lane: Lane, frames: list) -> None:
        size = sum(len(f) for f in frames)
        if lane.parked_bytes + size > PARKED_BYTES:
            # far behind: start it afresh. A greenpylm client, silent for a while
            # then, says hello, is welcomed under a new nonce and sends again
            self.problems.note("lanes.overflow", "a client sends far more than it reads: "
                               "dropped its lane ({} answers, {} bytes of calls)",
                               lane.held_messages, lane.parked_bytes + size)
            self._free(lane, gone=False)
            return
        lane.parked.append(frames)
        lane.parked_bytes += size

    def _unpark(self, lane: Lane) -> None:
        """Run what a lane's client sent while it was full, now that it drains
        (in the greenlet that found it draining, beside the handlers)."""
        while lane.parked and not lane.full:
            frames = lane.parked.popleft()
            lane.parked_bytes -= sum(len(f) for f in frames)
            messages = self._mark(lane, self._decode(lane, frames))
            if messages:
                self.server.stats["in"] += len(messages)
                self.deliver(messages)
                self.after_burst()

    # -- answers --------------------------------------------------------------
    def take(self, messages: list[Message]) -> None:
        """Answers for the client of one lane (`Message.lane`), sent once the burst is over."""
        lane = self.lanes.get(messages[0].lane)
        if lane is None:
            self.problems.note("lanes.gone", "dropped answers to a client that is gone",
                               level="DEBUG", amount=len(messages))
            return
        box = self.outbox.get(lane)
        if box is None:
            box = self.outbox[lane] = []
        box += messages
        if len(box) >= self.batch_size:  # a long burst (a fan-out): send as it goes,
            self.send_queued()            # and let the rest of the hub run
            gevent.sleep(0)
        elif not self._wake_due:  # answers from elsewhere (a master's workers) go out soon
            self._wake_due = True
            gevent.get_hub().loop.run_callback(self._wake)

    def _wake(self) -> None:
        self._wake_due = False
        if self.outbox and self.socket is not None:
            self.send_queued()

    def after_burst(self) -> None:
        """Send the answers the burst made (the handler sends them: no hand-over)."""
        super().after_burst()
        if self.outbox:
            self.send_queued()

    def send_queued(self) -> None:
        """Send every lane's answers in batches; what a full pipe does not take stays."""
        outbox, self.outbox = self.outbox, {}
        for lane, messages in outbox.items():
            for batch in self.batches(messages):
                if lane.identity not in self.lanes:
                    break  # freed while sending: its client is gone
                self._deliver(lane, [lane.identity, *self.encode(batch)], len(batch),
                              payloads_size(batch))

    def batches(self, messages: list[Message]) -> Iterator[list[Message]]:
        """`messages` in batches of `batch_size` messages or `BATCH_BYTES` at most."""
        start, size = 0, 0
        for i, message in enumerate(messages):
            size += len(message.payload)
            if i + 1 - start >= self.batch_size or size >= BATCH_BYTES:
                yield messages[start:i + 1]
                start, size = i + 1, 0
        if start < len(messages):
            yield messages[start:]

    def _send(self, frames: list, lane: Lane, count: int = 0) -> str:
        """Send `frames` without waiting: `SENT`, `FULL` (the peer's pipe is), or
        `GONE` (zmq knows the peer no more: its `lane` is freed)."""
        if self.socket is None:
            return GONE  # closed: the server has stopped
        try:
            send_frames(self.socket, frames, wait=False)
        except zmq.Again:
            return FULL
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self._free(lane)
            return GONE
        self.server.stats["out"] += count
        return SENT

    def _deliver(self, lane: Lane, frames: list, count: int = 0, size: int = 0) -> None:
        """Send `frames` (`count` answers, `size` bytes of payload) to the peer of
        `lane`, or keep them in the lane, after what it holds already."""
        if lane.unsent or self._send(frames, lane, count) is FULL:
            self._hold(lane, frames, count, size or sum(len(f) for f in frames))

    def _hold(self, lane: Lane, frames: list, count: int, size: int) -> None:
        lane.unsent.append((frames, count, size))
        lane.held_messages += count
        lane.held_bytes += size
        if lane not in self.blocked:
            self.blocked.add(lane)
            self._blocked.set()

    def retry(self) -> None:
        """Try the full pipes again, more and more slowly while none takes anything."""
        delay = RETRY_MIN
        while True:
            if not self.blocked:
                self._blocked.clear()
                self._blocked.wait()
                delay = RETRY_MIN
            gevent.sleep(delay)
            moved = False
            for lane in list(self.blocked):
                moved |= self._drain(lane)
            delay = RETRY_MIN if moved else min(2 * delay, RETRY_MAX)

    def _drain(self, lane: Lane) -> bool:
        """Send what `lane` holds, as far as its pipe takes it; whether anything went."""
        moved = False
        while lane.unsent:
            frames, count, size = lane.unsent[0]
            outcome = self._send(frames, lane, count)
            if outcome is FULL:
                break
            if outcome is GONE:
                return True  # freed with what it held
            lane.unsent.popleft()
            lane.held_messages -= count
            lane.held_bytes -= size
            moved = True
        if not lane.unsent:
            self.blocked.discard(lane)
        if moved and lane.parked:
            self._unpark(lane)
        return moved

    def sweep(self) -> None:
        """Free the lanes of quiet clients that are gone: a repeated welcome (which a
        client ignores) finds that zmq no longer knows them."""
        while True:
            gevent.sleep(SWEEP_EVERY)
            quiet = time.monotonic() - SWEEP_EVERY
            for lane in [lane for lane in self.lanes.values()
                         if lane.seen < quiet and not lane.unsent]:
                self._send([lane.identity, *welcome(lane.nonce)], lane)

    def _free(self, lane: Lane, gone: bool = True) -> None:
        """Forget a lane and everything it held (its client is `gone`, or far behind)."""
        self.lanes.pop(lane.identity, None)
        self.publisher.lanes.pop(lane.identity, None)
        self.outbox.pop(lane, None)
        self.blocked.discard(lane)
        if gone and (lane.held_messages or lane.parked):
            self.problems.note("lanes.freed", "a client is gone: freed the {} answers and {} "
                               "bytes of requests held for it", lane.held_messages,
                               lane.parked_bytes, level="INFO")
        lane.unsent.clear()
        lane.parked.clear()
        lane.held_messages = lane.held_bytes = lane.parked_bytes = 0
