"""`Orphans`: the messages of workers a master took for lost, handed out again.

The first answer of a message wins, the lost worker's too: a late answer
to one of its tickets settles the message if nobody has answered it yet,
and the copy handed out again is withdrawn (queued: it is skipped; at
another worker: its answer will be a duplicate). A lost worker that speaks
again on the same connection still holds what it held (zmq lost nothing
on it): its messages that still wait in the queue are its own again.
"""
from __future__ import annotations

from typing import Callable

from ..wire import Message

ORPHANS_KEPT = 65536  # tickets of lost workers whose late answers are still taken


class Orphans:
    """The bookkeeping of `WorkerPushService` for work of lost workers."""

    def __init__(self) -> None:
        self.messages: dict[int, Message] = {}  # a lost worker's ticket -> its message
        self.withdrawn: set[int] = set()  # id() of queued messages settled meanwhile
        self.lost: dict[bytes, list[int]] = {}  # a lost worker's connection -> its tickets

    def adopt(self, ticket: int, message: Message) -> None:
        """`message`, handed out under `ticket`, goes out again."""
        self.messages[ticket] = message
        while len(self.messages) > ORPHANS_KEPT:
            del self.messages[next(iter(self.messages))]  # the oldest: most likely answered

    def worker_lost(self, identity: bytes, tickets: list[int]) -> None:
        self.lost[identity] = tickets
        while len(self.lost) > ORPHANS_KEPT // 256:
            del self.lost[next(iter(self.lost))]

    def settle(self, ticket: int, held: dict, release: Callable[[int], object]) -> Message | None:
        """The message of a lost worker's `ticket` if nobody has answered it yet
        (its copy withdrawn); None if it was answered already. `held` is the
        ledger (ticket -> (worker, message)); `release(ticket)` takes one back."""
        message = self.messages.pop(ticket, None)
        if message is None:
            return None
        entry = held.get(message.ticket)
        if entry is not None and entry[1] is message:  # handed out again: take it back
            release(message.ticket)
        elif message.ticket == ticket or self.messages.get(message.ticket) is message:
            self.messages.pop(message.ticket, None)  # still queued
            self.withdrawn.add(id(message))
        else:
            return None
        return message

    def give_back(self, identity: bytes) -> list[tuple[int, Message]]:
        """The (ticket, message) of a lost worker, back on the same connection,
        that still wait in the queue: withdrawn from it, its own again."""
        back = []
        for ticket in self.lost.pop(identity, ()):
            message = self.messages.get(ticket)
            if message is not None and message.ticket == ticket:  # queued, not handed out
                del self.messages[ticket]
                self.withdrawn.add(id(message))
                back.append((ticket, message))
        return back

    def unsettled(self, batch: list[Message]) -> list[Message]:
        """`batch` (taken from the queue) without the messages withdrawn from it."""
        if not self.withdrawn:
            return batch
        kept = []
        for message in batch:
            if id(message) in self.withdrawn:
                self.withdrawn.discard(id(message))
            else:
                kept.append(message)
        return kept
