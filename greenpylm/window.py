"""The sending side of a call (`Window`) and the order of its results (`InOrder`).

A window keeps a call's messages in flight within two bounds, a count
(`window`) and bytes (`window_bytes`), and sends again what a server lost.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol

import gevent

from .shipping import Shipped
from .wire import Message
from .wire.message import payload_size

MAX_RESENDS = 3
WINDOW_BYTES = 256 * 1024 * 1024  # payload bytes a call keeps in flight, both ways
FIRST_GUESS = 1024 * 1024  # the bytes a result is taken to have until one is seen


class Expecting(Protocol):
    """Where a call's replies arrive (`calls.Inbox`)."""

    def expect(self, ids: Iterable[bytes]) -> None: ...
    def forget(self, id: bytes) -> None: ...


class Sending(Protocol):
    """What a window needs of its call (`calls.Call`)."""

    window: int
    window_bytes: int
    batch_size: int
    shipped: list[Shipped]
    inbox: Expecting
    send: Callable[[list], None]

    def message(self, payload: Any, id: bytes | None = None,
                with_code: bool = False) -> Message: ...


class Window:
    """The sending side of a call: keeps at most `window` messages outstanding,
    remembers each input until it is answered, and sends again what a server
    lost (``MissingCode``: with the code, `MAX_RESENDS` times at most; a new
    welcome: everything outstanding).

    It also keeps the bytes in flight under `window_bytes`: the outstanding
    inputs plus, for each, a result the mean size of those received so far
    (`FIRST_GUESS` until the first reply: 256 messages with the defaults,
    so a small job still goes out whole). One message may always go."""

    def __init__(self, call: Sending, payloads: Iterable[Any], fan_out: bool) -> None:
        self.call = call
        self.fan_out = fan_out  # replies may outnumber inputs: keep the inputs
        self._source = iter(payloads)
        self.inputs: dict[bytes, tuple[int, Any, int]] = {}  # id -> (position, payload, size)
        self.outstanding: set[bytes] = set()  # sent, not answered yet
        self._answered: set[bytes] = set()  # answered, may answer again (fan-out only)
        self._resends: dict[bytes, int] = {}
        self._input_bytes = 0  # of the outstanding inputs
        self._sent_bytes = 0  # of every input sent
        self._replies = 0
        self._reply_bytes = 0
        self.sent = 0
        self.exhausted = False

    @property
    def done(self) -> bool:
        """Every input sent and answered."""
        return self.exhausted and not self.outstanding

    def _result_size(self) -> float:
        """The bytes a result is expected to take."""
        return self._reply_bytes / self._replies if self._replies else FIRST_GUESS

    def _room(self) -> int:
        """How many more messages may go now."""
        call, outstanding = self.call, len(self.outstanding)
        room = call.window - outstanding
        result = self._result_size()
        each = result + (self._sent_bytes / self.sent if self.sent else 0)
        if each:
            spare = call.window_bytes - self._input_bytes - outstanding * result
            room = min(room, int(spare // each))
        return max(room, 0 if outstanding else 1)

    def fill(self) -> None:
        """Send new messages while there is room in the window."""
        call = self.call
        room = self._room()
        inputs, make = self.inputs, call.message
        while not self.exhausted and room > 0:
            batch = []
            limit = min(room, call.batch_size)
            position = self.sent
            with_code = not position and bool(call.shipped)  # the call's first message
            size = 0
            for payload in self._source:
                message = make(payload, with_code=with_code)
                with_code = False
                weight = payload_size(payload)
                inputs[message.id] = (position, payload, weight)
                position += 1
                size += weight
                batch.append(message)
                if len(batch) >= limit:
                    break
            else:
                self.exhausted = True
            self._input_bytes += size
            self._sent_bytes += size
            if batch:
                ids = [m.id for m in batch]
                call.inbox.expect(ids)
                call.send(call.encode(batch))
                self.outstanding.update(ids)
                self.sent += len(batch)
                room = self._room()
                if not self.exhausted:
                    gevent.sleep(0)  # between batches, let the rest of the hub run

    def send_outstanding_again(self) -> None:
        """The server welcomed the client anew (a new connection, a restart): send
        again what it may have lost, each message `MAX_RESENDS` times at most."""
        call = self.call
        again = []
        for id in self.outstanding:
            sent = self._resends.get(id, 0)
            if sent < MAX_RESENDS:
                self._resends[id] = sent + 1
                again.append(call.message(self.inputs[id][1], id, with_code=bool(call.shipped)))
        for start in range(0, len(again), call.batch_size):
            call.send(call.encode(again[start:start + call.batch_size]))

    def settle(self, reply: Message) -> tuple[int, Any, int] | None:
        """The (position, payload, size) of the input `reply` answers; None for a reply
        that answers nothing of this call, or that was handled here (resent)."""
        id = reply.id
        if id in self.outstanding:
            call = self.call
            if reply.error is not None and reply.error.type == "MissingCode" \
                    and call.shipped and self._resends.get(id, 0) < MAX_RESENDS:
                self._resends[id] = self._resends.get(id, 0) + 1
                call.send(call.encode([call.message(self.inputs[id][1], id, with_code=True)]))
                return None
            self.outstanding.discard(id)
            if self._resends:
                self._resends.pop(id, None)
            entry = self.inputs[id] if self.fan_out else self.inputs.pop(id)
            self._input_bytes -= entry[2]
            self._replies += 1
            self._reply_bytes += payload_size(reply.payload)
            if self.fan_out:
                self._answered.add(id)
            else:
                call.inbox.forget(id)
            return entry
        if id in self._answered:
            return self.inputs.get(id)
        return None  # a late answer to an earlier, timed-out call


class InOrder:
    """Puts results back in input order: each waits until every earlier
    input has been answered."""

    def __init__(self) -> None:
        self._next = 0
        self._held: dict[int, list] = {}
        self._answered: set[int] = set()

    def add(self, position: int, results: list) -> list:
        """The results that may go out now that input `position` gave `results`."""
        if position < self._next:
            return results  # more results of an input already let through (fan-out)
        self._held.setdefault(position, []).extend(results)
        self._answered.add(position)
        out = []
        while self._next in self._answered:
            self._answered.discard(self._next)
            out += self._held.pop(self._next, ())
            self._next += 1
        return out
