"""Two cooperative primitives that greenpylm builds on, written once.

- `Mailbox`: a FIFO of items between greenlets, bounded if asked (a part's
  outbox, an inbound part's queue, a call's inbox).
- `Turns`: greenlets that wait for what one source brings (a socket) take
  turns at reading it for everybody (an inbound part's handlers, the calls
  sharing a client).
"""
from __future__ import annotations

from collections import deque
from time import monotonic
from typing import Any, Callable

import gevent
from gevent.event import Event


class Mailbox(deque):
    """A FIFO of items between greenlets: a `deque` (its own `append`,
    `extend`, `popleft`, `len` stay as fast), bounded if asked.

    `put` waits while `limit` items are queued, or (with `byte_limit`) while
    the queued items weigh that many bytes by `weigh` (no limit: never; one
    item, or batch, always fits); `take` returns up to n items at once and
    never waits. Whoever waits for items is woken by whoever puts them (a
    `Turns`, an event of its own). Only `put`, `put_all`, `put_back` and
    `take` keep the weight.
    """

    def __init__(self, limit: int | None = None, byte_limit: int | None = None,
                 weigh: Callable[[Any], int] | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.byte_limit = byte_limit if weigh is not None else None
        self.weigh = weigh  # the bytes a list of items holds
        self.bytes = 0  # what the queued items weigh (with a byte limit)
        self._space = Event()
        self._space.set()

    def _full(self) -> bool:
        return (self.limit is not None and len(self) >= self.limit) or (
            self.byte_limit is not None and self.bytes >= self.byte_limit and len(self) > 0)

    def put(self, item: Any) -> None:
        """Queue `item` at the end, waiting while the mailbox is full."""
        self.put_all((item,))

    def put_all(self, items: list | tuple) -> None:
        """Queue `items` at the end, waiting while the mailbox is full (then all go
        in: a batch is not split)."""
        while self._full():
            self._space.clear()
            self._space.wait()
        if self.byte_limit is not None:
            self.bytes += self.weigh(items)
        self.extend(items)

    def put_back(self, items: list) -> None:
        """Queue `items` first, in their order (work handed back)."""
        if self.byte_limit is not None:
            self.bytes += self.weigh(items)
        self.extendleft(reversed(items))

    def take(self, count: int | None = None) -> list:
        """Up to `count` items (all without one) from the front."""
        n = len(self) if count is None else min(count, len(self))
        popleft = self.popleft
        taken = [popleft() for _ in range(n)]
        if self.byte_limit is not None:
            self.bytes -= self.weigh(taken)
        if not self._full():
            self._space.set()
        return taken


class Turns:
    """Greenlets waiting for what one source brings take turns at reading it.

    A greenlet that waits (`wait`) while nobody reads becomes the reader: it
    calls `read(deadline)` for everybody until what it waits for is there, so
    a lone waiter gets it without a hand-over between greenlets. The others
    wait on their own event until something wakes them (`wake`, or whoever
    set their event). When a waiter leaves, the reading is handed to one of
    those still waiting, once the hub runs again and only if nobody took it
    up meanwhile.
    """

    def __init__(self, read: Callable[[float | None], Any]) -> None:
        self._read = read
        self.reader: gevent.Greenlet | None = None
        self._waiting: deque[Event] = deque()
        self._hand_over_due = False

    def wait(self, ready: Callable[[], Any], event: Event,
             deadline: float | None = None) -> bool:
        """Return once `ready()` is true, reading while nobody else does; False
        if the monotonic `deadline` passed first. `event` is the caller's own:
        whoever sets it wakes the caller to look again."""
        try:
            while not ready():
                timeout = None if deadline is None else deadline - monotonic()
                if timeout is not None and timeout <= 0:
                    return False
                if self.reader is None:
                    self.reader = gevent.getcurrent()
                    try:
                        self._read(deadline)
                    finally:
                        self.reader = None
                    continue
                event.clear()
                self._waiting.append(event)
                try:
                    event.wait(timeout)
                finally:
                    try:
                        self._waiting.remove(event)
                    except ValueError:
                        pass  # `wake` took it out
            return True
        finally:
            if self._waiting and self.reader is None and not self._hand_over_due:
                self._hand_over_due = True
                gevent.get_hub().loop.run_callback(self._hand_over)

    def _hand_over(self) -> None:
        self._hand_over_due = False
        if self.reader is None:
            self.wake(1)

    def wake(self, count: int) -> None:
        """Wake up to `count` of the waiting greenlets (there is work for them)."""
        waiting = self._waiting
        while count > 0 and waiting:
            waiting.popleft().set()
            count -= 1

    def wake_all(self) -> None:
        """Make every waiting greenlet look again."""
        self.wake(len(self._waiting))
