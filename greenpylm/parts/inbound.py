"""`Inbound`: a part whose first message comes from outside, towards the router."""
from __future__ import annotations

from typing import Any, Iterable

import gevent
from gevent.event import Event

from ..cooperative import Mailbox, Turns
from ..wire import Message
from ..wire.transport import recv_frames
from .part import Host, Part


class Inbound(Part):
    """A part whose first message comes from outside, towards the router.

    For each message received, `scatter` yields the messages to route: what
    the part's `hook` makes of it (a server's ``execute``, a master's
    ``scatter``), or the message itself; a blocking inbound part passes the
    router's feedback to `handle_feedback`.

    `concurrency` (default: the server's `concurrency`): how many messages may be in `scatter` at once, each in a handler
    greenlet of its own, so that a step waiting on I/O does not hold up the
    others; with 1 they are handled strictly one at a time, in order. The
    handlers take turns at reading the socket: the one that reads a batch
    handles its first message itself, so a lone request is answered without
    a hand-over between greenlets, and wakes idle ones for the rest and for
    the next read.
    """

    #: handler greenlets beyond `concurrency`, which read while the others run
    #: calls (a part that must answer some input at once, however busy it is)
    spare_readers = 0

    def __init__(self, name: str, listen_address: str, *, concurrency: int | None = None,
                 **part: Any) -> None:
        super().__init__(name, listen_address, **part)
        self._wanted = concurrency
        self.concurrency = 1
        self._queue = Mailbox()  # read, not handled yet
        self._turns = Turns(self._read_batch)  # the handlers take turns at reading
        self._intake = True
        self._busy = 0  # handlers in the middle of a message
        self._quiet = Event()  # nothing queued, nobody busy
        self._quiet.set()

    def attach(self, server: Host) -> None:
        super().attach(server)
        wanted = self._wanted if self._wanted is not None else getattr(server, "concurrency", 1)
        self.concurrency = max(1, int(wanted))

    def tasks(self) -> list:
        return [self.run] * (self.concurrency + self.spare_readers)

    def scatter(self, message: Message) -> Iterable[Message]:
        """The messages to route for one received message: the hook's, or itself."""
        return (message,) if self.hook is None else self.hook(message)

    def handle_feedback(self, feedback: Message | None) -> Message | None:
        """What a blocking part makes of the feedback of the part it routed to."""
        return feedback

    def deliver(self, messages: list[Message]) -> list[Message | None]:
        """Route every message scattered from `messages` (`pass_on`), in one hand-over
        per batch; the feedback of a blocking route."""
        routed: list[Message] = []
        self.pass_on(self.scatter, messages, routed)
        return self.forward(routed)

    def accept(self, message: Message) -> None:
        """A message that arrives in memory, not on the socket (a call made inside
        the server): counted, delivered, and what it gave sent on."""
        self.server.stats["in"] += 1
        self.deliver([message])
        self.after_burst()

    def forward(self, messages: list[Message]) -> list[Message | None]:
        """Hand messages on: through the router, by default; the feedback of a
        blocking route. A failure on the way on (a bug) is counted, not fatal."""
        if not messages:
            return []
        try:
            feedback = self.server.router.route(self.name, messages)
        except Exception as exc:
            self.hook_failed(exc, "routing")
            return []
        return [self.handle_feedback(f) for f in feedback]

    def stop_intake(self, greenlets: list) -> None:
        """No handler reads again; the one waiting for input stops waiting."""
        self._intake = False
        reader = self._turns.reader
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill()  # it holds no message while it waits for one

    def drain(self, timeout: float) -> None:
        self._quiet.wait(timeout)

    def after_burst(self) -> None:
        """What received messages were delivered, send on (one hand-over fewer)."""
        self.server.router.flush()

    def run(self) -> None:
        """One handler: handles what is queued while fewer than `concurrency` do,
        or else reads when no other handler does."""
        queue = self._queue
        wake = Event()

        def may_handle() -> bool:
            return bool(queue) and self._busy < self.concurrency

        while True:
            if not may_handle():
                self._turns.wait(may_handle, wake)
            # one handler takes all that is queued (one call for a whole batch);
            # several take one message each, so none waits behind another's slow step
            messages = queue.take() if self.concurrency == 1 else [queue.popleft()]
            self._busy += 1
            try:
                self.deliver(messages)
            finally:
                self._busy -= 1
            if not queue:
                self.after_burst()
                if not self._busy:
                    self._quiet.set()

    def _read_batch(self, deadline: float | None) -> None:
        """Read one batch for every handler (`Turns`); wake idle ones for the rest
        (the reader handles the first message itself)."""
        if not self._intake:
            Event().wait()  # intake has stopped: wait to be stopped
        messages = self.decode(recv_frames(self.socket))
        if not messages:
            return
        self.server.stats["in"] += len(messages)
        self._queue.extend(messages)
        self._quiet.clear()
        self._turns.wake(len(messages) - 1)


class BypassInbound(Part):
    """An inbound part that never talks to the router (it answers itself)."""


