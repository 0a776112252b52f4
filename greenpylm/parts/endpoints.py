"""Socket behaviours shared by services (bind) and connections (connect).

`services` and `connections` only choose which side binds; what a PULL,
PUSH, PUB, SUB or request/reply part does is written here, once.
"""
from __future__ import annotations

import secrets
import uuid
from typing import Any, Iterator

import zmq.green as zmq
from gevent.event import Event

from ..wire import ErrorRecord, Message, ProtocolError, decode
from ..wire.frames import header_id, version_mismatch, version_refusal, welcome, welcome_nonce
from ..wire.message import payloads_size
from ..wire.transport import recv_frames, send_frames
from .inbound import Inbound
from .outbound import Outbound
from .part import Part


class PullPart(Inbound):
    """Receives batches on a PULL socket and routes every message."""

    socket_type = zmq.PULL


class PushPart(Outbound):
    """Sends what the router hands it on a PUSH socket, in batches."""

    socket_type = zmq.PUSH


PUB_HWM = 10_000  # batches queued per subscriber before the publisher waits
MAX_TOPIC = 4096  # bytes of a subscription topic (client ids and server names are short)


def is_client_topic(topic: bytes) -> bool:
    """Whether `topic` is a client's own (a client subscribes to its uuid)."""
    try:
        return len(topic) == 36 and str(uuid.UUID(topic.decode())) == topic.decode()
    except ValueError:
        return False


class PubPart(Outbound):
    """Publishes messages under the topic `handle_stream` gives them.

    The socket is an XPUB: when a subscription arrives, the part publishes
    a *welcome* on that topic, so a subscriber knows from which moment on it
    misses nothing (pylm's clients could lose replies published before
    their subscription had reached the server). Every welcome of one run of
    the part carries the same random nonce: a subscriber tells a restarted
    publisher from a repeated welcome (anyone's new subscription to its topic).

    An answer to a caller with a lane here (`lanes`: a client of the server's
    client link, a call made inside the server) goes to that lane, not to
    the socket: nobody who subscribes can read it.
    """

    socket_type = zmq.XPUB

    def __init__(self, name: str, listen_address: str, **kw: Any) -> None:
        super().__init__(name, listen_address, **kw)
        self.subscriptions: set[bytes] = set()  # topics someone subscribes to
        #: lane key (a message's `lane`) -> what takes a list of answers to that
        #: caller, instead of the socket (`client_link.ClientLinkService`, `local.LocalCalls`)
        self.lanes: dict[Any, Any] = {}
        self.nonce = b""

    def configure(self, socket: Any) -> None:
        super().configure(socket)
        self.nonce = secrets.token_bytes(8)
        socket.setsockopt(zmq.XPUB_VERBOSE, 1)
        # a subscriber that falls behind slows the publisher down instead of
        # losing messages (pylm's PUB dropped them past its high-water mark)
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        socket.setsockopt(zmq.SNDHWM, PUB_HWM)

    @staticmethod
    def weigh(items: list) -> int:
        """The payloads of (topic, message) items; a welcome has no message."""
        return payloads_size([m for _, m in items if m is not None])

    def frame_limit(self) -> int:
        """Subscriptions only come in: zmq keeps a node per byte of each topic, so
        a peer that sends a longer one is disconnected before it is stored."""
        return MAX_TOPIC + 1

    def handle_stream(self, message: Message) -> tuple[str, Message]:
        """The topic `message` is published under: the hook's (a server's
        ``handle_stream``), or the client's id."""
        return (message.client, message) if self.hook is None else self.hook(message)

    def handle(self, message: Message) -> None:
        self.handle_batch([message])

    def handle_batch(self, messages: list[Message]) -> list:
        """Publish each message under its topic (`handle_stream`); no feedback.
        An answer to a caller with a lane here (the topic is the client's) goes
        to that lane, a lane's answers in one call; the rest is queued for the
        socket."""
        handle_stream = self.handle_stream
        to_lanes: dict[Any, list[Message]] = {}
        for message in messages:
            try:
                topic, message = handle_stream(message)
                if not isinstance(topic, (str, bytes)):
                    raise TypeError(f"handle_stream gave the topic {topic!r}: not str or bytes")
                published: Any = ((topic, message),)
            except Exception as exc:  # user code: the client learns, the part goes on
                self.hook_failed(exc, "handle_stream")
                failed = message.reply(error=ErrorRecord.from_exception(exc))
                published = [(topic, failed) for topic in self.error_topics(message)]
            for topic, message in published:
                lane = message.lane
                if lane is not None and (topic == message.client
                                         or topic == message.client.encode()):
                    answers = to_lanes.get(lane)
                    if answers is None:
                        to_lanes[lane] = [message]
                    else:
                        answers.append(message)
                else:
                    self.post((topic, message))
        for lane, answers in to_lanes.items():
            deliver = self.lanes.get(lane)
            if deliver is not None:
                deliver(answers)
            else:  # the caller is gone (`ClientLinkService` forgot its lane)
                self.problems.note("lanes.gone", "dropped answers to a client that is gone",
                                   level="DEBUG", amount=len(answers))
        return []

    def error_topics(self, message: Message) -> list:
        """Where an error goes when the topic is unknown (`handle_stream` failed):
        the client's own topic, and every subscribed topic that is not a client's,
        since the client may listen at the end of a pipeline fed by any of them."""
        own = message.client.encode()
        return [own, *(t for t in self.subscriptions if t != own and not is_client_topic(t))]

    def tasks(self) -> list:
        return [self.run, self.watch_subscriptions]

    def watch_subscriptions(self) -> None:
        socket = self.socket
        while True:
            frames = recv_frames(socket)
            event = frames[0]
            if len(frames) == 1 and event[:1] == b"\x01":
                self.subscriptions.add(event[1:])
                self.post((event[1:], None))
            elif len(frames) == 1 and event[:1] == b"\x00":
                self.subscriptions.discard(event[1:])  # zmq tells of the last one only
            else:
                self.bad_input(ProtocolError("bad-subscription", "not a subscription message"))

    def batches(self, items: list) -> Iterator[list]:
        """One batch per run of consecutive items with the same topic."""
        start = 0
        for i in range(1, len(items) + 1):
            if i == len(items) or items[i][0] != items[start][0] or items[i][1] is None \
                    or items[start][1] is None:
                topic = items[start][0]
                if isinstance(topic, str):
                    topic = topic.encode()
                if items[start][1] is None:
                    yield [topic, *welcome(self.nonce)]
                else:
                    yield [topic] + self.encode([m for _, m in items[start:i]])
                start = i


class SubPart(Inbound):
    """Subscribes to `topic` (option; all topics when empty) and routes what arrives."""

    socket_type = zmq.SUB

    def __init__(self, name: str, listen_address: str, *, topic: str | list = "",
                 previous: str | list = "", **inbound: Any) -> None:
        super().__init__(name, listen_address, **inbound)
        topic = topic or previous
        self.topics = list(topic) if isinstance(topic, (list, tuple)) else [topic]
        self.welcomed: set[str] = set()
        #: set once the publisher has welcomed every subscription of this part
        self.subscribed = Event()

    def configure(self, socket: Any) -> None:
        super().configure(socket)
        for topic in self.topics:
            socket.setsockopt(zmq.SUBSCRIBE, topic.encode())

    def decode(self, frames: list) -> list[Message] | None:
        if welcome_nonce(frames[1:]) is not None:
            topic = frames[0].decode("utf-8", "replace")
            if topic in self.topics and topic not in self.welcomed:
                self.welcomed.add(topic)
                self.log.info("subscribed to {!r} at {}", topic, self.listen_address)
                if self.welcomed.issuperset(self.topics):
                    self.subscribed.set()
            return None
        if len(frames) < 2:
            self.bad_input(ProtocolError("truncated", "published message without a body"))
            return None
        return super().decode(frames[1:])


class RequestReplyPart:
    """Answers requests on a ROUTER socket, REP style (one reply per request).

    Requests are ``[identity, b'', batch...]``; as many peers as like may
    ask at once. Malformed requests get an error reply, never silence.
    """

    socket_type = zmq.ROUTER
    #: one greenlet reads and answers, whatever the server's concurrency
    stop_intake = Part.stop_intake

    def tasks(self) -> list:
        return [self.run]

    def answer(self, messages: list[Message]) -> list[Message]:
        raise NotImplementedError

    def run(self) -> None:
        socket = self.socket
        while True:
            send_frames(socket, self.reply_to(recv_frames(socket)))

    def reply_to(self, frames: list) -> list:
        """The frames that answer one request (`frames`, identity first)."""
        identity = frames[0]
        refusal = version_refusal(frames[2:]) if len(frames) > 2 else None
        if refusal is not None:  # a peer of another version: refused in its own words
            self.bad_input(ProtocolError("bad-version", version_mismatch(frames[2][4])))
            return [identity, b""] + refusal
        if len(frames) < 3 or frames[1] != b"":
            self.bad_input(ProtocolError("bad-envelope", "expected [b'', batch...]"))
            replies = [Message(error=ErrorRecord(
                "ProtocolError", "bad-envelope: a request starts with an empty delimiter frame"))]
        else:
            try:
                messages = decode(frames[2:], self.max_frame)
            except ProtocolError as exc:
                self.bad_input(exc)
                # answer under the request's id if its header has one, so it is matched
                messages = None
                replies = [Message(error=ErrorRecord(
                    "ProtocolError", f"malformed request: {exc} (see docs/protocol.md)"),
                    id=header_id(frames[3]) if len(frames) > 3 else None)]
            if messages is not None:
                self.server.stats["in"] += len(messages)
                try:
                    replies = self.answer(messages)
                except Exception as exc:  # a bug must not stop the part
                    self.hook_failed(exc, "answering")
                    replies = [m.reply(error=ErrorRecord.from_exception(exc)) for m in messages]
        self.server.stats["out"] += len(replies)
        return [identity, b""] + self.encode(replies)


class RepPart(RequestReplyPart, Inbound):
    """A blocking inbound part: each request goes through the router and
    the feedback (or the request itself, as an acknowledgement) is the reply."""

    def answer(self, messages: list[Message]) -> list[Message]:
        replies = []
        for message in messages:
            feedback = [f for f in self.deliver([message]) if f is not None]
            replies.extend(feedback or [message])
        return replies
