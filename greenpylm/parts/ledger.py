"""The master's side of its link with the workers: nothing is lost when a worker dies.

`WorkerPushService` (a bound ROUTER) hands messages to the workers that
have room (each announces its capacity in its hello, which is also its
heartbeat), remembers which worker holds which message (the ledger), hands
the work of a worker that is lost (no heartbeat for `heartbeat_timeout`
seconds) or leaves to the others, and lets through only the first answer of
each message. The results go on through `Router.emit`: this part's hook
(a master's ``gather``), then its route (``register_outbound(...,
route="Pub")``); a server built from pylm's parts that routes only its
`WorkerPullService` has the results follow that part's route.

`WorkerPullService` is pylm's pull service for results: it binds a PULL
where workers that push plain batches send them; greenpylm's workers
answer over their link instead (`worker_connection`).
"""
from __future__ import annotations

import secrets
import time
from typing import Any

import gevent
import zmq.green as zmq

from ..wire import ErrorRecord, Message, ProtocolError
from ..wire import worker_link as link
from ..wire.frames import foreign_version, version_mismatch
from ..wire.transport import recv_frames, send_frames
from .endpoints import PullPart
from .worker_state import WorkerState
from .meter import Latencies
from .orphans import ORPHANS_KEPT, Orphans
from .outbound import Outbound
from .part import Host

HEARTBEAT_TIMEOUT = 3.0    # seconds of silence after which a worker is lost
MAX_CAPACITY = 4096        # messages one worker may hold, whatever it announces
TIME_LIMIT_TRIES = 3       # runs past the time limit after which a message fails
SPREAD_AFTER = 0.05        # seconds of idle workers after which new work is shared evenly
SAMPLE_EVERY = 64          # one ticket in this many has its round trip measured


class WorkerPullService(PullPart):
    """Binds a PULL for results pushed by workers as plain batches (pylm's
    way), routed on like any inbound part's messages."""

    bind = True


class WorkerPushService(Outbound):
    """Hands work to workers by capacity and keeps the ledger of who holds what.

    `heartbeat_timeout`: seconds of silence after which a worker is lost (3);
    `max_capacity`: the most messages one worker is handed at once, whatever
    capacity it announces (4096), so that no peer can claim all the work;
    `time_limit`: seconds a message may run on a worker (None: no limit).
    Past it the message goes to another worker, `time_limit_tries` times at
    most, and then its client gets a `TimeLimitExceeded` error.
    """

    socket_type = zmq.ROUTER
    bind = True
    default_batch_size = 128

    def __init__(self, name: str, listen_address: str, *,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT, max_capacity: int = MAX_CAPACITY,
                 time_limit: float | None = None, time_limit_tries: int = TIME_LIMIT_TRIES,
                 **outbound: Any) -> None:
        super().__init__(name, listen_address, **outbound)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.max_capacity = max(1, int(max_capacity))
        self.time_limit = float(time_limit) if time_limit else None
        self.time_limit_tries = max(1, int(time_limit_tries))
        self._overtime: dict[bytes, int] = {}  # message id -> runs past the time limit
        self.workers: dict[bytes, WorkerState] = {}  # by the link's zmq identity
        self.by_id: dict[bytes, WorkerState] = {}  # by the id in their hellos
        self.held: dict[int, tuple[bytes, Message]] = {}  # ticket -> (worker, message)
        self.orphans = Orphans()  # the work of lost workers: the first answer wins
        self.round_trips = Latencies()  # from hand to answer, of one ticket in SAMPLE_EVERY
        self._sampled: dict[int, float] = {}  # ticket -> when it was handed out
        # a random start: answers to tickets of an earlier run of this master
        # (a restart) can never be taken for answers to this run's tickets
        self._tickets = secrets.randbits(60)
        self._idle_since = 0.0  # when the workers last came to hold nothing
        self._busy_since = 0.0  # when the listener started on what it is handling

    def attach(self, server: Host) -> None:
        """Know where results go: this part's route or, in a server made of pylm's
        parts, the route of its `WorkerPullService` (pylm's results came in there)."""
        super().attach(server)
        entry = server.router.outbound[self.name]
        if not entry.route:
            entry.route = next((server.router.inbound[p.name].route
                                for p in server.inbound_components.values()
                                if isinstance(p, WorkerPullService)), "")
        if not entry.route:
            raise ValueError(f"{self.name} needs a route for the workers' results "
                             "(register_outbound(..., route=...))")

    def configure(self, socket: Any) -> None:
        super().configure(socket)
        socket.setsockopt(zmq.ROUTER_MANDATORY, 1)  # an unknown worker is an error, not a void

    def tasks(self) -> list:
        return [self.run, self.listen, self.watch]

    def gauges(self) -> dict:
        """Messages at the workers and waiting for one, the workers, the round trips."""
        now = time.monotonic()
        return {"in_flight": len(self.held), "waiting": len(self.outbox),
                "workers_seen": sorted(w.name for w in self.workers.values()),
                "workers": sorted((w.figures(now) for w in self.workers.values()),
                                  key=lambda w: w["name"]),
                "worker_round_trip": self.round_trips.summary(),
                "histograms": {"worker_round_trip_seconds": self.round_trips.cumulative()}}

    # -- the router's side -------------------------------------------------
    def send_queued(self) -> None:
        """Hand the queued messages (`outbox`) to the workers with room, the
        roomiest first (and those whose messages ran past the time limit
        last), in whole batches. Work that finds every worker idle
        for a while (`SPREAD_AFTER`: a new job) is shared evenly, so that a
        small job is spread too, as pylm's round robin spread it; within a
        running job, small batches would cost a round trip each."""
        if self._sending.locked():
            return
        with self._sending:
            while self.outbox:
                ready = [w for w in self.workers.values() if w.room > 0]
                if not ready:
                    break
                spread = not self.held and time.monotonic() - self._idle_since > SPREAD_AFTER
                share = -(-len(self.outbox) // len(ready)) if spread else len(self.outbox)
                for worker in sorted(ready, key=lambda w: (w.overtimes, -w.room)):
                    self._hand(worker, share)
                    if not self.outbox:
                        break
            if not self.outbox and not self.held:
                self._idle.set()

    def _hand(self, worker: WorkerState, share: int) -> None:
        count = min(worker.room, self.batch_size, share, len(self.outbox))
        if count <= 0:
            return
        batch = self.outbox.take(count)
        if self.orphans.withdrawn:
            batch = self.orphans.unsettled(batch)
            count = len(batch)
            if not count:
                return
        tickets = list(range(self._tickets + 1, self._tickets + 1 + count))
        self._tickets += count
        try:
            send_frames(self.socket, [worker.identity] + link.work(tickets, self.encode(batch)))
        except zmq.ZMQError:  # the worker is gone (ROUTER_MANDATORY): keep the work
            self.outbox.put_back(batch)
            self._lose(worker, "unreachable")
            return
        for ticket, message in zip(tickets, batch):
            self.held[ticket] = (worker.identity, message)
            message.ticket = ticket
        worker.holds.update(tickets)
        first = tickets[0] + -tickets[0] % SAMPLE_EVERY  # the batch's sampled tickets
        if first <= tickets[-1]:
            if len(self._sampled) > ORPHANS_KEPT:  # tickets of lost workers, never answered
                self._sampled.clear()
            handed = time.monotonic()
            for ticket in range(first, tickets[-1] + 1, SAMPLE_EVERY):
                self._sampled[ticket] = handed
        self.server.stats["to_workers"] += count

    def flush(self, timeout: float) -> None:
        """Wait (up to `timeout`) until every message handed out has been answered."""
        self._idle.wait(timeout)

    # -- the workers' side -------------------------------------------------
    def listen(self) -> None:
        """Read what workers send: hellos, results, goodbyes."""
        socket = self.socket
        while True:
            frames = recv_frames(socket)
            identity, body = frames[0], frames[1:]
            self._busy_since = time.monotonic()
            try:
                kind = body[0] if body else b""
                if kind == link.RESULTS:
                    try:
                        self._answered(identity, *link.parse_results(body, self.max_frame))
                    except ProtocolError as exc:
                        self._unreadable(identity, body, exc)
                        raise
                elif kind == link.HELLO:
                    self._hello(identity, *link.parse_hello(body))
                elif kind == link.STUCK:
                    self._stuck(*link.parse_stuck(body))
                elif kind == link.BYE:
                    worker = self.workers.get(identity)
                    if worker is not None:
                        self._lose(worker, "left", expected=True)
                elif foreign_version(kind) is not None:
                    raise ProtocolError("bad-version", version_mismatch(kind[4]))
                else:
                    raise ProtocolError("bad-kind", "not a worker message")
            except ProtocolError as exc:
                self.bad_input(exc)
                continue
            finally:
                self._busy_since = 0.0
            self._ready.set()

    def _hello(self, identity: bytes, capacity: int, role: int, name: str,
               worker_id: bytes) -> None:
        worker = self.by_id.get(worker_id)
        if worker is not None and (role == link.ROLE_BEAT or worker.identity == identity):
            worker.last_seen = time.monotonic()  # alive (its beat thread says so even when busy)
        elif role == link.ROLE_LINK:
            if worker is not None:  # the same worker on a new connection
                self._lose(worker, "reconnected", expected=True)
            if capacity > self.max_capacity:
                self.problems.note("capped", "worker {} announced a capacity of {}: it gets "
                                   "{} at most (max_capacity)", name, capacity,
                                   self.max_capacity, level="WARNING")
            capacity = min(max(1, capacity), self.max_capacity)
            worker = WorkerState(identity, name, capacity, time.monotonic(), worker_id)
            self.workers[identity] = self.by_id[worker_id] = worker
            kept = self._give_back(worker)
            self.log.info("worker {} joined (capacity {}{})", name, capacity,
                          f"; it still holds {kept} messages" if kept else "")

    def _answered(self, identity: bytes, done: list[int], tickets: list[int],
                  results: list[Message]) -> None:
        worker = self.workers.get(identity)
        if worker is not None:
            worker.last_seen = time.monotonic()
        if self.time_limit:  # a step that yielded past the limit: try another worker
            late = {t for t, r in zip(tickets, results) if r.error is not None
                    and r.error.type == link.TIME_LIMIT_EXCEEDED and t in self.held}
            for ticket in late:
                self._over_time(ticket)
            done = [t for t in done if t not in late]
        first = {}  # ticket answered for the first time -> the lane of its caller
        take = self.held.pop
        for ticket in done:
            entry = take(ticket, None)
            if entry is not None:
                first[ticket] = entry[1].lane
                if entry[0] != identity:  # handed to the same worker on another connection
                    self._forget_holder(entry[0], ticket)
                continue
            message = self.orphans.settle(ticket, self.held, self._release)
            if message is not None:  # a lost worker answered first after all
                self.server.stats["answered_late"] += 1
                first[ticket] = message.lane
            # else answered already: a duplicate
        if worker is not None:
            worker.holds.difference_update(first)
        if first and not self.held:
            self._idle_since = time.monotonic()
        fresh = []
        for ticket, result in zip(tickets, results):
            if ticket in first:
                result.lane = first[ticket]  # the lane stays here; the result goes back by it
                fresh.append(result)
        if len(fresh) < len(results):
            self.problems.note("duplicates", "dropped late answers of messages already "
                               "answered (a worker thought lost came back)", level="INFO",
                               amount=len(results) - len(fresh))
        if fresh:
            if worker is not None:
                worker.done += len(fresh)
            self.server.stats["from_workers"] += len(fresh)
            if self._sampled:
                now = time.monotonic()
                for ticket in self._sampled.keys() & first.keys():
                    self.round_trips.add(now - self._sampled.pop(ticket))
            self.server.router.emit(self.name, fresh)
        if not self.outbox and not self.held:
            self._idle.set()

    def _unreadable(self, identity: bytes, body: list, exc: ProtocolError) -> None:
        """Results that cannot be read still say which tickets are done: their
        clients get an error naming why, instead of waiting for ever."""
        try:
            done = link.unpack_tickets(body[1])
        except (IndexError, ProtocolError):
            return  # not even that: bad input, counted by the caller
        failed = []
        for ticket in done:
            entry = self.held.get(ticket)
            if entry is not None and entry[0] == identity:
                self._release(ticket)
                error = ErrorRecord("ProtocolError", f"the worker's results could not be "
                                    f"read: {exc}")
                failed.append(entry[1].reply(error=error))
        if failed:
            self.server.router.emit(self.name, failed)

    def _stuck(self, worker_id: bytes, tickets: list[int]) -> None:
        """A worker's beat thread says these have run past the time limit while
        its hub is held: they go to others, and the worker is taken for lost."""
        worker = self.by_id.get(worker_id)
        if worker is None:
            return
        for ticket in tickets:
            if ticket in worker.holds and ticket in self.held:
                self._over_time(ticket)
        self._lose(worker, f"stuck in a step past the time limit ({self._limit()})")

    def _over_time(self, ticket: int) -> None:
        """The message of `ticket` ran past the time limit: hand it out again,
        or, after `time_limit_tries` runs, answer it with `TimeLimitExceeded`."""
        holder_identity, message = self._release(ticket)
        holder = self.workers.get(holder_identity)
        if holder is not None:
            holder.overtimes += 1
        runs = self._overtime[message.id] = self._overtime.get(message.id, 0) + 1
        while len(self._overtime) > ORPHANS_KEPT:
            del self._overtime[next(iter(self._overtime))]
        self.server.stats["over_time_limit"] += 1
        if runs < self.time_limit_tries:
            self.orphans.adopt(ticket, message)  # if it ends after all, its answer is taken
            self.outbox.put_back([message])
            self._ready.set()
            return
        del self._overtime[message.id]
        self.problems.note("failed.time_limit", "a message ran past the time limit ({}) {} "
                           "times: its client is told", self._limit(), runs)
        error = ErrorRecord(link.TIME_LIMIT_EXCEEDED, f"ran longer than the time limit "
                            f"({self._limit()}), {runs} times, on workers of {self.server.name}")
        self.server.router.emit(self.name, [message.reply(error=error)])

    def _limit(self) -> str:
        """The time limit, in words (a worker may have one of its own)."""
        return f"{self.time_limit:g} s" if self.time_limit else "the worker's own"

    def _give_back(self, worker: WorkerState) -> int:
        """A worker taken for lost, on the same connection again, holds its
        messages still queued (`Orphans.give_back`); how many."""
        back = self.orphans.give_back(worker.identity)
        for ticket, message in back:
            self.held[ticket] = (worker.identity, message)
            worker.holds.add(ticket)
        return len(back)

    def _release(self, ticket: int) -> tuple[bytes, Message] | None:
        """Take `ticket` back from the worker that holds it; its (worker, message)."""
        entry = self.held.pop(ticket, None)
        if entry is not None:
            self._forget_holder(entry[0], ticket)
        return entry

    def _forget_holder(self, identity: bytes, ticket: int) -> None:
        """The worker on connection `identity` holds `ticket` no more."""
        holder = self.workers.get(identity)
        if holder is not None:
            holder.holds.discard(ticket)

    def watch(self) -> None:
        """Declare lost the workers not heard from for `heartbeat_timeout`."""
        while True:
            gevent.sleep(self.heartbeat_timeout / 4)
            if self._busy_since and time.monotonic() - self._busy_since > self.heartbeat_timeout / 4:
                continue  # the listener itself is held up (a slow publisher): hellos wait unread
            deadline = time.monotonic() - self.heartbeat_timeout
            for worker in [w for w in self.workers.values() if w.last_seen < deadline]:
                self._lose(worker, f"no heartbeat for {self.heartbeat_timeout:g} s")

    def _lose(self, worker: WorkerState, why: str, expected: bool = False) -> None:
        """Forget `worker`; what it held goes first in line for the others."""
        self.workers.pop(worker.identity, None)
        if self.by_id.get(worker.id) is worker:
            del self.by_id[worker.id]
        back = []
        for ticket in sorted(worker.holds):
            entry = self.held.pop(ticket, None)
            if entry is not None:
                back.append(entry[1])
                self.orphans.adopt(ticket, entry[1])
        if back and not expected:
            self.orphans.worker_lost(worker.identity, sorted(worker.holds))
        self.outbox.put_back(back)
        self.server.stats["redispatched"] += len(back)
        log = self.log.info if expected else self.log.warning
        log("worker {} {}; the {} messages it held go to the others", worker.name,
            why if expected else f"lost ({why})", len(back))
        self._ready.set()
