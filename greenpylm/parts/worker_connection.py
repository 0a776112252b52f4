"""The worker's side of its link with the master: `WorkerConnection` (a
DEALER) takes work, sends results and heartbeats; `HeartbeatThread` keeps
the heartbeats going from a real thread while user code holds the hub."""
from __future__ import annotations

import time
import uuid
from typing import Any

import gevent
import zmq as plain_zmq
import zmq.green as zmq
from gevent import monkey
from gevent.lock import Semaphore

from ..wire import links
from ..wire import Message, ProtocolError
from ..wire.errors import TimeLimitExceeded
from ..wire import worker_link as link
from ..wire.transport import send_frames
from .inbound import Inbound

HEARTBEAT_INTERVAL = 0.5   # seconds between a worker's hellos
DEFAULT_CAPACITY = 256     # messages a worker holds at once


class WorkerConnection(Inbound):
    """A worker's link to its master: takes work, sends results and heartbeats.

    `capacity`: how many messages it holds at once (announced to the master
    in every hello). `time_limit`: seconds a message may run; one that
    yields past it ends with `TimeLimitExceeded`, and one that holds the hub
    past it is reported by the heartbeat thread (the master hands it to
    another worker, and takes this one for lost).
    """

    socket_type = zmq.DEALER
    bind = False

    def __init__(self, name: str, listen_address: str, *, capacity: int = DEFAULT_CAPACITY,
                 time_limit: float | None = None, **inbound: Any) -> None:
        super().__init__(name, listen_address, **inbound)
        self.capacity = int(capacity)
        self.time_limit = float(time_limit) if time_limit else None
        self.running: dict[int, float] = {}  # tickets running -> since (with a time limit)
        self.hub_seen = time.monotonic()  # when the hub last ran `announce`
        self.worker_id = uuid.uuid4().bytes
        self._results: list[Message] = []  # results to send, each with its ticket
        self._done: list[int] = []  # tickets whose results are all in `_results`
        self._sending = Semaphore()

    def configure(self, socket: Any) -> None:
        socket.setsockopt(zmq.LINGER, 1000)
        socket.setsockopt(zmq.IMMEDIATE, 1)  # nothing queued for a master that is not there

    def tasks(self) -> list:
        return super().tasks() + [self.announce]

    def announce(self) -> None:
        """Say hello on the work link now and then (a restarted master learns of
        this worker so), and keep a heartbeat going from a real thread."""
        beat = HeartbeatThread(self) if not self.listen_address.startswith("inproc://") else None
        try:
            while True:
                self.hub_seen = time.monotonic()
                self._send(link.hello(self.capacity, self.server.name, self.worker_id))
                gevent.sleep(HEARTBEAT_INTERVAL)
        finally:
            if beat is not None:
                beat.stop()

    def decode(self, frames: list) -> list[Message] | None:
        try:
            tickets, messages = link.parse_work(frames, self.max_frame)
        except ProtocolError as exc:
            self.bad_input(exc)
            return None
        for ticket, message in zip(tickets, messages):
            message.ticket = ticket
        return messages

    def deliver(self, messages: list[Message]) -> list:
        """Run each message and keep its outcome and its ticket together, at
        once (other handlers may send a burst while this one's step yields):
        the results of a ticket always travel with it. A message that gave no
        result is answered DROPPED, so that its ticket is done."""
        for message in messages:
            outcome: list[Message] = []
            if self.time_limit:
                self._run(message, outcome)
            else:
                self.pass_on(self.scatter, (message,), outcome)
            self._results.extend(outcome or [message.reply(dropped=True)])
            self._done.append(message.ticket)
        return []

    def _run(self, message: Message, outcome: list) -> None:
        """`pass_on` within the time limit (seen by the heartbeat thread too)."""
        self.running[message.ticket] = time.monotonic()
        late = TimeLimitExceeded(f"ran longer than the time limit of {self.time_limit:g} s")
        try:
            with gevent.Timeout(self.time_limit, late):
                self.pass_on(self.scatter, (message,), outcome)
        finally:
            del self.running[message.ticket]

    def after_burst(self, wait: bool = True) -> None:
        """Send the results gathered so far, with the tickets they answer."""
        if not self._done:
            return
        done, self._done = self._done, []
        results, self._results = self._results, []
        tickets = [m.ticket for m in results]
        self._send(link.results(done, tickets, self.encode(results)), wait)

    def _send(self, frames: list, wait: bool = True) -> None:
        with self._sending:
            send_frames(self.socket, frames, wait)

    def before_close(self) -> None:
        """Tell the master this worker is leaving, so that it hands what this
        worker still holds (unread) to the others (if the master is there)."""
        try:
            self.after_burst(wait=False)
            self._send([link.BYE], wait=False)
        except zmq.Again:
            self.log.info("the master is gone: leaving without a goodbye")


class HeartbeatThread:
    """Heartbeats from a real OS thread, on a socket of its own.

    The interpreter switches threads even while user code holds the hub (a
    CPU-bound step), so a busy worker keeps saying it is alive; a frozen or
    dead process says nothing, and its master hands its work to others.
    Under monkey patching the thread is still a real one.
    """

    def __init__(self, part: WorkerConnection) -> None:
        self._stopping = monkey.get_original("threading", "Event")()
        self._part = part
        self._told: set[int] = set()  # tickets reported stuck
        context = plain_zmq.Context.shadow(part.server.context.underlying)
        self._thread = monkey.get_original("threading", "Thread")(
            target=self._beat, args=(context,),
            name=f"greenpylm-heartbeat-{part.server.name}", daemon=True)
        self._thread.start()

    def _beat(self, context: Any) -> None:
        part = self._part
        frames = link.hello(part.capacity, part.server.name, part.worker_id, link.ROLE_BEAT)
        socket = links.new_socket(context, plain_zmq.DEALER)
        socket.setsockopt(plain_zmq.SNDHWM, 2)
        links.connect(socket, part.listen_address, part.server.keys)
        try:
            while not self._stopping.wait(HEARTBEAT_INTERVAL):
                try:
                    socket.send_multipart(frames, plain_zmq.NOBLOCK)
                    stuck = self._stuck()
                    if stuck:
                        socket.send_multipart(link.stuck(part.worker_id, stuck),
                                              plain_zmq.NOBLOCK)
                        self._told.update(stuck)
                except plain_zmq.Again:
                    pass  # no master right now: the next beat will tell
        finally:
            socket.close()

    def _stuck(self) -> list[int]:
        """Tickets past the time limit while the hub is held (the step does not
        yield: only this thread can tell)."""
        part, now = self._part, time.monotonic()
        if part.time_limit is None or now - part.hub_seen < 2 * HEARTBEAT_INTERVAL:
            return []
        return [ticket for ticket, since in part.running.copy().items()
                if now - since > part.time_limit and ticket not in self._told]

    def stop(self) -> None:
        """End the beats; the master will declare this worker lost unless it says goodbye."""
        self._stopping.set()
        self._thread.join(2)
