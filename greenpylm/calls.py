"""One call (an `eval` or a `job`), whatever the transport: shared by the clients.

A call turns payloads into messages, keeps at most `window` of them in
flight, matches replies to inputs by message id, and ships the code of
callable steps with its first message; a server that lacks that code
(restarted, or evicted it) answers ``MissingCode`` and the message is sent
again with the code, up to `MAX_RESENDS` times.
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any, Callable, Iterable, Iterator

import gevent
from gevent.event import Event

from .shipping import Seal, Shipped
from .wire import CallTimeout, GreenpylmError, Message, encode
from .wire.transport import deadline_after

MAX_RESENDS = 3
#: what an inbox receives when the server welcomed the client again: it may
#: have restarted and lost what it held, so the calls send it again
WELCOMED_AGAIN = Message()

#: one step: (server name, method name or callable)
Step = tuple[str, Any]


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

    No greenlet is set aside for reading: a waiting call reads the socket
    itself when no other call is reading (one at a time), and delivers what
    it reads to every inbox; when it leaves, it hands the reading over to
    another waiting call. A lone call so gets its reply without a hand-over
    between greenlets. Replies nobody expects (late answers to timed-out
    calls) are dropped.
    """

    def __init__(self, read: Callable[[float | None], list[Message]]) -> None:
        self._read = read  # the next batch, or [] (deadline passed, or a welcome)
        self._boxes: dict[bytes, "Inbox"] = {}
        self._waiting: set[Event] = set()  # of the calls waiting while another reads
        self._reading = False
        self.failure: Exception | None = None

    def inbox(self) -> "Inbox":
        return Inbox(self)

    def wait(self, ready: Callable[[], Any], event: Event, deadline: float | None) -> bool:
        """Wait until `ready()`, reading for everybody while nobody else does;
        False if `deadline` passed first. `event` is the caller's own: set to
        wake it (a delivery, its turn to read, a welcome)."""
        try:
            while not ready():
                if self.failure is not None:
                    raise GreenpylmError(f"the client's receiving socket failed: "
                                         f"{self.failure!r}")
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    return False
                if not self._reading:
                    self._pump(deadline)
                    continue
                event.clear()
                self._waiting.add(event)
                try:
                    event.wait(timeout)
                finally:
                    self._waiting.discard(event)
            return True
        finally:
            if not self._reading:
                self._pass_turn()

    def _pump(self, deadline: float | None) -> None:
        self._reading = True
        try:
            messages = self._read(deadline)
        except Exception as exc:  # the socket broke: every waiting call fails (`wait`)
            self.failure = exc
            self.wake_all()
            return
        finally:
            self._reading = False
        boxes = self._boxes
        for message in messages:
            box = boxes.get(message.id)
            if box is not None:
                box.put(message)

    def _pass_turn(self) -> None:
        """Wake a waiting call that nothing else woke: it reads next."""
        for event in self._waiting:
            if not event.is_set():
                event.set()
                return

    def wake_all(self) -> None:
        """Make every waiting call look again (after a welcome, or a failure)."""
        for event in self._waiting:
            event.set()

    def welcomed_again(self) -> None:
        """Tell every waiting call that the server may have lost what it held."""
        for box in set(self._boxes.values()):
            box.put(WELCOMED_AGAIN)

    def close(self) -> None:
        """The socket is closing: calls still waiting fail instead of hanging."""
        self.failure = self.failure or GreenpylmError("the client was closed")
        self.wake_all()


class Inbox:
    """The replies of one call, as the dispatcher delivers them."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._boxes = dispatcher._boxes
        self._ids: set[bytes] = set()
        self._items: deque = deque()
        self._ready = Event()

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
        self._items.append(message)
        self._ready.set()

    def get(self, deadline: float | None, what: str) -> list[Message]:
        """The replies delivered so far, waiting for one until `deadline`."""
        if not self._items and not self._dispatcher.wait(self._items.__len__, self._ready,
                                                         deadline):
            raise CallTimeout(f"timed out waiting for {what}")
        items = list(self._items)
        self._items.clear()
        return items


class Call:
    """Runs one eval or job: sends with `send(frames)`, receives through `inbox`."""

    def __init__(self, planned: tuple[str, list[Shipped]], *, seal: Seal, client: str,
                 pipeline: str, cache: str, window: int, batch_size: int,
                 send: Callable[[list], None], inbox: Inbox) -> None:
        self.function, self.shipped = planned  # what `plan` made of the steps
        self.seal = seal
        self.client = client
        self.pipeline = pipeline
        self.cache = cache
        self.window = window
        self.batch_size = batch_size
        self.send = send
        self.inbox = inbox

    def _message(self, payload: Any, id: bytes | None = None, with_code: bool = False) -> Message:
        message = Message(self.function, payload, client=self.client, pipeline=self.pipeline,
                          cache=self.cache, id=id)
        if with_code:
            self.seal.attach(message, self.shipped)
        self.seal.close(message)
        return message

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
        inbox = self.inbox
        source = iter(payloads)
        fan_out = messages != sys.maxsize  # pylm's way of saying: more replies than inputs
        inputs: dict[bytes, tuple[int, Any]] = {}  # id -> (position, payload), while needed
        resends: dict[bytes, int] = {}
        outstanding: set[bytes] = set()  # sent, not answered yet
        answered_ids: set[bytes] = set()  # answered, may answer again (fan-out only)
        held: dict[int, list] = {}  # ordered: results waiting for earlier positions
        answered: set[int] = set()
        next_out = 0
        sent = produced = 0
        exhausted = False
        first = True
        while produced < messages:
            room = self.window - len(outstanding)
            while not exhausted and room > 0:
                batch = []
                for payload in source:
                    message = self._message(payload, with_code=first and bool(self.shipped))
                    first = False
                    inputs[message.id] = (sent + len(batch), payload)
                    batch.append(message)
                    if len(batch) >= min(room, self.batch_size):
                        break
                else:
                    exhausted = True
                if batch:
                    ids = [m.id for m in batch]
                    inbox.expect(ids)
                    self.send(encode(batch))
                    outstanding.update(ids)
                    sent += len(batch)
                    room -= len(batch)
                    if not exhausted:
                        gevent.sleep(0)  # between batches, let the rest of the hub run
            if exhausted and not outstanding and not fan_out:
                return
            what = f"{len(outstanding)} of {sent} messages to {self.function!r}"
            for reply in inbox.get(deadline_after(timeout), what):
                if reply is WELCOMED_AGAIN:  # the server restarted? send again what it held
                    again = [self._message(inputs[i][1], i, with_code=bool(self.shipped))
                             for i in outstanding]
                    for start in range(0, len(again), self.batch_size):
                        self.send(encode(again[start:start + self.batch_size]))
                    continue
                if reply.id in outstanding:
                    if reply.error is not None and reply.error.type == "MissingCode" \
                            and self.shipped and resends.get(reply.id, 0) < MAX_RESENDS:
                        resends[reply.id] = resends.get(reply.id, 0) + 1
                        resent = self._message(inputs[reply.id][1], reply.id, with_code=True)
                        self.send(encode([resent]))
                        continue
                    outstanding.discard(reply.id)
                    resends.pop(reply.id, None)
                    if fan_out:
                        answered_ids.add(reply.id)
                    else:
                        inbox.forget(reply.id)
                    entry = inputs.get(reply.id) if fan_out else inputs.pop(reply.id, None)
                elif reply.id in answered_ids:
                    entry = inputs.get(reply.id)
                else:
                    continue  # a late answer to an earlier, timed-out call
                if reply.error is not None:
                    raise reply.error.to_exception()
                if not reply.dropped:
                    self.seal.open(reply, wanted=b"")
                wanted = keep_drops or not reply.dropped
                payload = None if reply.dropped else reply.payload
                result = (entry[1], payload) if with_input else payload
                if not ordered or entry[0] < next_out:
                    if wanted:
                        produced += 1
                        yield result
                        if produced >= messages:
                            return
                    continue
                if wanted:
                    held.setdefault(entry[0], []).append(result)
                answered.add(entry[0])
                while next_out in answered:
                    answered.discard(next_out)
                    for result in held.pop(next_out, ()):
                        produced += 1
                        yield result
                        if produced >= messages:
                            return
                    next_out += 1
