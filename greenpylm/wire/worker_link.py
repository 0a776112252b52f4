"""Frames between a master (ROUTER) and its workers (DEALER), see docs/protocol.md.

The master gives every message it hands out a *ticket* (u64); a worker
answers with the results of each ticket and says which tickets are done,
in the same multipart message, so the master knows at every moment which
worker holds what, re-dispatches the work of a worker that is lost, and
drops the late answers of a ticket that was already answered.

    master -> worker   [WORK,    tickets, batch...]
    worker -> master   [RESULTS, done tickets, result tickets, batch...]
                       [HELLO,   capacity u32 + role u8, name, worker id]
                       (role 'W': from the work link, announces the worker;
                        role 'B': a heartbeat from the worker's beat thread)
                       [BYE]                               (leaving: hand my work back)
                       [STUCK,   worker id, tickets]       (from the beat thread: these
                        have run past the time limit while the worker's hub is held)
"""
from __future__ import annotations

import struct
from typing import Sequence

from .errors import ProtocolError
from .frames import MAGIC, VERSION, decode, foreign_version, version_mismatch
from .message import Message

WORK = MAGIC + bytes((VERSION, ord("K")))
RESULTS = MAGIC + bytes((VERSION, ord("R")))
HELLO = MAGIC + bytes((VERSION, ord("H")))
BYE = MAGIC + bytes((VERSION, ord("Y")))
STUCK = MAGIC + bytes((VERSION, ord("T")))
#: the error type of a message that ran past its time limit
TIME_LIMIT_EXCEEDED = "TimeLimitExceeded"
_HELLO = struct.Struct(">IB")
ROLE_LINK = ord("W")
ROLE_BEAT = ord("B")


def pack_tickets(tickets: Sequence[int]) -> bytes:
    return struct.pack(f">{len(tickets)}Q", *tickets)


def unpack_tickets(frame: bytes) -> list[int]:
    if len(frame) % 8:
        raise ProtocolError("bad-tickets", f"a tickets frame of {len(frame)} bytes")
    return list(struct.unpack(f">{len(frame) // 8}Q", frame))


def work(tickets: Sequence[int], batch: list) -> list:
    """A WORK message; `batch` is the frames of the messages (`frames.encode`)."""
    return [WORK, pack_tickets(tickets)] + batch


def results(done: Sequence[int], tickets: Sequence[int], batch: list) -> list:
    """A RESULTS message; `batch` is the frames of the results (`frames.encode`)."""
    return [RESULTS, pack_tickets(done), pack_tickets(tickets)] + batch


def hello(capacity: int, name: str, worker: bytes, role: int = ROLE_LINK) -> list:
    return [HELLO, _HELLO.pack(capacity, role), name.encode(), worker]


def stuck(worker: bytes, tickets: Sequence[int]) -> list:
    return [STUCK, worker, pack_tickets(tickets)]


def parse_stuck(frames: Sequence[bytes]) -> tuple[bytes, list[int]]:
    """Worker id and tickets of a STUCK message."""
    if len(frames) != 3:
        raise ProtocolError("bad-stuck", "expected [STUCK, worker id, tickets]")
    return bytes(frames[1]), unpack_tickets(frames[2])


def parse_work(frames: Sequence[bytes], max_frame: int) -> tuple[list[int], list[Message]]:
    """Tickets and messages of a WORK message (without the identity frame)."""
    if frames and foreign_version(frames[0]) is not None:
        raise ProtocolError("bad-version", version_mismatch(frames[0][4]))
    if len(frames) < 3 or frames[0] != WORK:
        raise ProtocolError("bad-work", "expected [WORK, tickets, batch...]")
    tickets = unpack_tickets(frames[1])
    messages = decode(frames[2:], max_frame)
    if len(tickets) != len(messages):
        raise ProtocolError("bad-tickets", f"{len(tickets)} tickets for {len(messages)} messages")
    return tickets, messages


def parse_results(frames: Sequence[bytes], max_frame: int
                  ) -> tuple[list[int], list[int], list[Message]]:
    """Done tickets, result tickets and results of a RESULTS message."""
    if len(frames) < 4:
        raise ProtocolError("truncated", "expected [RESULTS, done, tickets, batch...]")
    done = unpack_tickets(frames[1])
    tickets = unpack_tickets(frames[2])
    messages = decode(frames[3:], max_frame)
    if len(tickets) != len(messages):
        raise ProtocolError("bad-tickets", f"{len(tickets)} tickets for {len(messages)} results")
    return done, tickets, messages


def parse_hello(frames: Sequence[bytes]) -> tuple[int, int, str, bytes]:
    """Capacity, role, name and worker id of a HELLO message."""
    if len(frames) != 4 or len(frames[1]) != _HELLO.size:
        raise ProtocolError("bad-hello", "expected [HELLO, capacity u32 + role u8, name, id]")
    capacity, role = _HELLO.unpack(frames[1])
    if role not in (ROLE_LINK, ROLE_BEAT):
        raise ProtocolError("bad-hello", f"unknown role {role}")
    try:
        name = frames[2].decode()
    except UnicodeDecodeError:
        raise ProtocolError("bad-utf8", "worker name is not UTF-8") from None
    return capacity, role, name, bytes(frames[3])
