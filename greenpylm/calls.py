"""One call (an `eval` or a `job`), whatever the transport: shared by the clients.

A call turns payloads into messages, keeps at most `window` of them in
flight (and no more than `window_bytes` of inputs and expected results),
matches replies to inputs by message id, and ships the code of
callable steps with its first message; a server that lacks that code
(restarted, or evicted it) answers ``MissingCode`` and the message is sent
again with the code. Whatever the reason (that, or a new welcome), a
message is sent again `MAX_RESENDS` times at most.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, Iterator

from gevent.event import Event

from .cooperative import Mailbox, Turns
from .shipping import Seal, Shipped
from .wire import CallTimeout, GreenpylmError, Message, ProtocolError, encode
from .wire.message import new_id
from .wire.transport import deadline_after
from .window import WINDOW_BYTES, InOrder, Window

RESEND_AFTER = 10.0  # seconds of silence after which a client of a chain resends
#: what an inbox receives when the server welcomed the client again: it may
#: have restarted and lost what it held, so the calls send it again
WELCOMED_AGAIN = Message()

#: one step: (server name, method name or callable)
Step = tuple[str, Any]


def steps_of(function: Any, first_server: str | None = None) -> list[Step]:
    """The steps of `function`: ``'server.method'``, ``('server', callable)``, or
    a list of those. Given `first_server` (a chain's), an entry may also be a
    bare method name or a callable: it runs on whichever server the chain
    hands it to (`first_server` for the first step)."""
    entries = [function] if isinstance(function, (str, tuple)) else list(function) \
        if isinstance(function, list) else [function]
    steps = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str) and "." in entry:
            server, _, method = entry.partition(".")
            steps.append((server, method))
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            steps.append(entry)
        elif first_server is not None and (isinstance(entry, str) or callable(entry)):
            steps.append((first_server if i == 0 else "", entry))
        elif isinstance(entry, str):
            raise ValueError(f"a step is 'server.method', not {entry!r}")
        else:
            raise TypeError(f"a step is 'server.method' or ('server', callable), "
                            f"not {entry!r}")
    return steps


def plan(steps: list[Step]) -> tuple[str, list[Shipped]]:
    """The `function` string of a call and the callables it ships."""
    names, shipped = [], {}
    for server, target in steps:
        if isinstance(target, str):
            names.append(f"{server}.{target}")
        elif callable(target):
            code = Shipped.of(target)
            shipped[code.digest] = code
            names.append(f"{server}.{code.reference}")
        else:
            raise TypeError(f"a step is a method name or a callable, not {target!r}")
    return " ".join(names), list(shipped.values())


class Dispatcher:
    """Hands every reply a client receives to the `Inbox` of the call that sent
    its id, so that many greenlets can share one client.

    No greenlet is set aside for reading: the calls that wait take turns at
    reading the socket for everybody (`Turns`), so a lone call gets its reply
    without a hand-over between greenlets. Replies nobody expects (late
    answers to timed-out calls) are dropped.
    """

    def __init__(self, read: Callable[[float | None], list[Message]]) -> None:
        self._read = read  # the next batch, or [] (deadline passed, or a welcome)
        self._boxes: dict[bytes, "Inbox"] = {}
        self._turns = Turns(self._pump)
        self.failure: Exception | None = None

    def inbox(self) -> "Inbox":
        return Inbox(self)

    @property
    def expecting(self) -> bool:
        """Whether some call waits for a reply."""
        return bool(self._boxes)

    def wait(self, ready: Callable[[], Any], event: Event, deadline: float | None) -> bool:
        """Wait until `ready()`, reading for everybody while nobody else does;
        False if `deadline` passed first. `event` is the caller's own: set to
        wake it (a delivery, its turn to read, a welcome)."""
        def done() -> bool:
            if ready():
                return True
            failure = self.failure
            if isinstance(failure, ProtocolError):
                raise ProtocolError(failure.kind, failure.detail)
            if failure is not None:
                raise GreenpylmError(f"the client's receiving socket failed: {failure!r}")
            return False
        return self._turns.wait(done, event, deadline)

    def _pump(self, deadline: float | None) -> None:
        try:
            messages = self._read(deadline)
        except Exception as exc:  # the socket broke: every waiting call fails (`wait`)
            self.failure = exc
            self.wake_all()
            return
        boxes = self._boxes
        delivered: dict[Inbox, list[Message]] = {}
        for message in messages:
            box = boxes.get(message.id)
            if box is not None:
                mine = delivered.get(box)
                if mine is None:
                    delivered[box] = [message]
                else:
                    mine.append(message)
        for box, mine in delivered.items():  # one hand-over per call, not per reply
            box.put_all(mine)

    def wake_all(self) -> None:
        """Make every waiting call look again (after a welcome, or a failure)."""
        self._turns.wake_all()

    def welcomed_again(self) -> None:
        """Tell every waiting call that the server may have lost what it held."""
        for box in set(self._boxes.values()):
            box.put(WELCOMED_AGAIN)

    def close(self) -> None:
        """The socket is closing: calls still waiting fail instead of hanging."""
        self.failure = self.failure or GreenpylmError("the client was closed")
        self.wake_all()

    def reopen(self) -> None:
        """The client connects again (after `close`, or a broken socket)."""
        self.failure = None


class Inbox:
    """The replies of one call, as the dispatcher delivers them."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._boxes = dispatcher._boxes
        self._ids: set[bytes] = set()
        self._items = Mailbox()
        self._arrived = Event()  # set by `put`, for the call waiting in `get`

    def expect(self, ids: Iterable[bytes]) -> None:
        for id in ids:
            self._boxes[id] = self
            self._ids.add(id)

    def forget(self, id: bytes) -> None:
        self._boxes.pop(id, None)
        self._ids.discard(id)

    def close(self) -> None:
        for id in self._ids:
            self._boxes.pop(id, None)
        self._ids.clear()

    def put(self, message: Message) -> None:
        self.put_all((message,))

    def put_all(self, messages: list | tuple) -> None:
        self._items.extend(messages)
        self._arrived.set()

    def get(self, deadline: float | None, what: str) -> list[Message]:
        """The replies delivered so far, waiting for one until `deadline`."""
        items = self._items
        if not items and not self._dispatcher.wait(items.__len__, self._arrived, deadline):
            raise CallTimeout(f"timed out waiting for {what}")
        return items.take()


class Call:
    """Runs one eval or job: sends with `send(frames)`, receives through `inbox`."""

    def __init__(self, planned: tuple[str, list[Shipped]], *, seal: Seal, client: str,
                 pipeline: str, cache: str, window: int, batch_size: int,
                 send: Callable[[list], None], inbox: Inbox,
                 resend_after: float | None = None, window_bytes: int = WINDOW_BYTES,
                 sealed: bool = False) -> None:
        self.function, self.shipped = planned  # what `plan` made of the steps
        #: seconds without any reply after which what is outstanding is sent again
        #: (a chain's stage may have lost it; None: only a new welcome resends)
        self.resend_after = resend_after
        self.seal = seal
        self.client = client
        self.pipeline = pipeline
        self.cache = cache
        self.window = window
        self.window_bytes = window_bytes
        self.batch_size = batch_size
        self.send = send
        self.inbox = inbox
        #: batches go sealed (a chain: every process holds the key)
        self.sealed = sealed

    def message(self, payload: Any, id: bytes | None = None, with_code: bool = False) -> Message:
        """The signed message carrying `payload` (and the call's code, `with_code`)."""
        message = Message.build(self.function, payload, self.pipeline, self.client, 0,
                                self.cache, new_id() if id is None else id, b"", b"", None,
                                None, False, False)
        if with_code:
            self.seal.enclose(message, self.shipped)
        self.seal.sign(message, self.sealed)  # deferred: signed with its batch, by `encode`
        return message

    def encode(self, messages: list[Message]) -> list:
        """The frames of a batch of this call's messages: sealed, or packed if they pack."""
        return self.seal.encode(messages) if self.sealed else encode(messages, pack=True)

    def _first_of(self, deadline: float | None) -> float | None:
        """`deadline`, or sooner when the call resends after a silence."""
        if self.resend_after is None:
            return deadline
        silence = time.monotonic() + self.resend_after
        return silence if deadline is None else min(deadline, silence)

    def push(self, payloads: Iterable[Any]) -> int:
        """Send every payload, in batches, expecting no reply; how many were sent."""
        sent, batch = 0, []
        for payload in payloads:
            batch.append(self.message(payload, with_code=not sent and bool(self.shipped)))
            sent += 1
            if len(batch) >= self.batch_size:
                self.send(self.encode(batch))
                batch = []
        if batch:
            self.send(self.encode(batch))
        return sent

    def run(self, payloads: Iterable[Any], messages: int = sys.maxsize,
            timeout: float | None = None, keep_drops: bool = False, ordered: bool = False,
            with_input: bool = False) -> Iterator[Any]:
        """Yield results as they come (or in input order), `messages` at most.

        Without `messages`, the call ends once every message sent has been
        answered or dropped. `timeout` bounds each wait for the next reply.
        """
        try:
            yield from self._run(payloads, messages, timeout, keep_drops, ordered, with_input)
        finally:
            self.inbox.close()

    def _run(self, payloads: Iterable[Any], messages: int, timeout: float | None,
             keep_drops: bool, ordered: bool, with_input: bool) -> Iterator[Any]:
        fan_out = messages != sys.maxsize  # pylm's way of saying: more replies than inputs
        window = Window(self, payloads, fan_out)
        order = InOrder() if ordered else None
        produced = 0
        deadline = deadline_after(timeout)
        while produced < messages:
            window.fill()
            if window.done and not fan_out:
                return
            what = f"{len(window.outstanding)} of {window.sent} messages to {self.function!r}"
            try:
                replies = self.inbox.get(self._first_of(deadline), what)
            except CallTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                window.send_outstanding_again()  # silence: a stage may have lost them
                continue
            deadline = deadline_after(timeout)  # `timeout` bounds each wait for a reply
            for reply in replies:
                if reply is WELCOMED_AGAIN:
                    window.send_outstanding_again()
                    continue
                entry = window.settle(reply)
                if entry is None:
                    continue
                if reply.error is not None:
                    raise reply.error.to_exception()
                if not reply.dropped:
                    self.seal.open(reply, wanted=b"")
                payload = None if reply.dropped else reply.payload
                wanted = keep_drops or not reply.dropped
                result = (entry[1], payload) if with_input else payload
                if order is not None:
                    for result in order.add(entry[0], [result] if wanted else []):
                        produced += 1
                        yield result
                        if produced >= messages:
                            return
                elif wanted:
                    produced += 1
                    yield result
                    if produced >= messages:
                        return
