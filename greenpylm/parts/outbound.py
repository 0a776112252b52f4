"""`Outbound`: a part whose first message goes from the router to the outside."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import gevent
import zmq.green as zmq
from gevent.event import Event
from gevent.lock import Semaphore

from ..cooperative import Mailbox
from ..wire import Message
from ..wire.message import payloads_size
from ..wire.transport import send_frames
from .part import Part

BATCH_SIZE = 256      # messages at most in one multipart send
OUTBOX_LIMIT = 20000  # messages queued in an outbound part before producers wait
OUTBOX_BYTES = 256 * 1024 * 1024  # or payload bytes
LINGER_MS = 500       # how long a closing outbound socket may flush


class Outbound(Part):
    """A part whose first message goes from the router to the outside.

    `handle` queues a message and returns at once (no feedback); the
    part's greenlet (or the producer, at the end of a burst: `Router.flush`)
    sends what is queued in batches of up to `batch_size` (`BATCH_SIZE`
    by default) messages per multipart send. Producers wait
    when `OUTBOX_LIMIT` messages or `OUTBOX_BYTES` of payloads are queued,
    so memory stays bounded when the peer is slow.
    """

    def __init__(self, name: str, listen_address: str, *, batch_size: int | None = None,
                 **part: Any) -> None:
        super().__init__(name, listen_address, **part)
        self.batch_size = int(batch_size or self.default_batch_size)
        self.outbox = Mailbox(OUTBOX_LIMIT, OUTBOX_BYTES, self.weigh)
        self._ready = Event()  # the sender greenlet has something to send
        self._idle = Event()
        self._idle.set()
        self._wake_due = False
        self._sending = Semaphore()
        self._one_by_one = type(self).handle is not Outbound.handle

    default_batch_size = BATCH_SIZE

    def configure(self, socket: Any) -> None:
        socket.setsockopt(zmq.LINGER, LINGER_MS)

    def feedback(self, message: Message) -> Iterable[Message]:
        """What an answer from this part's peers becomes before the router hands
        it on (`Router.emit`): the hook's messages (a master's ``gather``), or itself."""
        return (message,) if self.hook is None else self.hook(message)

    #: the bytes a list of outbox items holds (messages: their payloads)
    weigh = staticmethod(payloads_size)

    def handle(self, message: Message) -> Message | None:
        """Take one message from the router (queued for sending); its feedback:
        none here. A part that does more with each message overrides this."""
        self.post(message)
        return None

    def handle_batch(self, messages: list[Message]) -> list[Message | None]:
        """Take a batch from the router (what the router calls); the feedback.
        Queued all at once, unless the part handles messages one by one (it
        overrides `handle`, as a part written for pylm does)."""
        if self._one_by_one:
            return [self.handle(m) for m in messages]
        self.post_all(messages)
        return []

    def post(self, item: Any) -> None:
        """Queue `item` for the sender greenlet, waiting while the outbox is full."""
        self.post_all((item,))

    def post_all(self, items: list | tuple) -> None:
        """Queue `items` for the sender greenlet, waiting while the outbox is full."""
        self.outbox.put_all(items)
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
                items = outbox.take(self.batch_size)
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


class BypassOutbound(Part):
    """An outbound part that never talks to the router."""
