"""Sending and receiving whole batches on zmq.green sockets, cheaply.

zmq delivers a multipart message atomically: once its first frame can be
received, all can; once its first frame is queued for sending, the rest
will be. So the frames go through the plain (non-waiting) socket calls, and
only when the first one cannot go does the greenlet wait, on zmq.green's
own readiness event. That spares, per frame, a greenlet check, an option
read and several enum operations.

A zmq socket signals readiness on edges: an operation on a socket can use up
the signal another greenlet waits for. zmq.green re-checks its state after
every call it makes; here that costs more than the call itself, so it is
done only for sockets that work both ways (XPUB, DEALER, ROUTER...), where
a greenlet may wait to receive while another sends. A one-way socket (PUSH,
PULL, PUB, SUB) has one waiter at a time in greenpylm, which tries the
socket before it waits.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import gevent
import zmq
import zmq.green
from zmq.backend import Socket as _PlainSocket

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_ONE_WAY = frozenset(int(t) for t in (zmq.PUSH, zmq.PULL, zmq.PUB, zmq.SUB))
COPY_THRESHOLD = 64 * 1024  # frames this big are handed to zmq without a copy

_plain_recv = _PlainSocket.recv
_plain_send = _PlainSocket.send
_plain_get = _PlainSocket.get
_EVENTS_INT = int(zmq.EVENTS)
_POLLIN, _POLLOUT = int(zmq.POLLIN), int(zmq.POLLOUT)

#: HACK, guarded: the fast path calls pyzmq's backend socket methods unbound and
#: zmq.green's private `_wait_read`/`_wait_write` and readiness events
#: (`_Socket__readable`, `_Socket__writable`, which its `__state_changed`
#: sets); where a pyzmq release lacks them, the public zmq.green calls serve
#: instead (slower, same behaviour).
FAST_PATH = (hasattr(zmq.green.Socket, "_wait_read") and hasattr(zmq.green.Socket, "_wait_write")
             and hasattr(zmq.green.Socket, "_Socket__state_changed")
             and callable(_plain_recv) and callable(_plain_send) and callable(_plain_get))


def _state_changed(socket: Any) -> None:
    """What zmq.green's ``get(EVENTS)`` does after an operation (wake a greenlet
    waiting for the other direction), without its enum arithmetic."""
    events = _plain_get(socket, _EVENTS_INT)
    if events & _POLLIN:
        readable = socket._Socket__readable
        if not readable.ready():
            readable.set()
    if events & _POLLOUT:
        writable = socket._Socket__writable
        if not writable.ready():
            writable.set()


def public_recv_frames(socket: Any) -> list[bytes]:
    """`recv_frames` through zmq.green's public API."""
    return socket.recv_multipart()


def public_send_frames(socket: Any, frames: Sequence[Any], wait: bool = True) -> None:
    """`send_frames` through zmq.green's public API."""
    socket.send_multipart(frames, 0 if wait else _NOBLOCK)


def fast_recv_frames(socket: Any) -> list[bytes]:
    """The frames of the next multipart message (waits cooperatively)."""
    while True:
        try:
            frame = _plain_recv(socket, _NOBLOCK, False)
            break
        except zmq.Again:
            socket._wait_read()  # zmq.green's: returns once the socket may have input
    frames = [frame.bytes]
    while frame.more:
        frame = _plain_recv(socket, _NOBLOCK, False)
        frames.append(frame.bytes)
    if socket.type not in _ONE_WAY:
        _state_changed(socket)  # a greenlet may wait to send
    return frames


def fast_send_frames(socket: Any, frames: Sequence[Any], wait: bool = True) -> None:
    """Send `frames` as one multipart message; waits cooperatively while the
    socket cannot take it, or (with ``wait=False``) raises `zmq.Again`."""
    last = len(frames) - 1
    more = _SNDMORE if last else 0
    while True:
        try:
            _plain_send(socket, frames[0], _NOBLOCK | more, True)
            break
        except zmq.Again:
            if not wait:
                raise
            socket._wait_write()  # zmq.green's: returns once the socket may take output
    for i in range(1, last):
        frame = frames[i]
        _plain_send(socket, frame, _NOBLOCK | _SNDMORE, len(frame) < COPY_THRESHOLD)
    if last:
        frame = frames[last]
        _plain_send(socket, frame, _NOBLOCK, len(frame) < COPY_THRESHOLD)
    if socket.type not in _ONE_WAY:
        _state_changed(socket)  # a greenlet may wait to receive


recv_frames = fast_recv_frames if FAST_PATH else public_recv_frames
send_frames = fast_send_frames if FAST_PATH else public_send_frames


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time `timeout` seconds from now (None: no deadline)."""
    return None if timeout is None else time.monotonic() + timeout


def has_input(socket: Any) -> bool:
    """Whether a receive on `socket` would find a message now."""
    return bool(socket.getsockopt(zmq.EVENTS) & zmq.POLLIN)


def wait_readable(socket: Any, deadline: float | None) -> bool:
    """Wait cooperatively until `socket` has input; False if `deadline` passed first.

    The wait is zmq.green's own readiness event (a hub watcher on zmq's
    notification descriptor) under a gevent timeout, never ``select()``,
    which zmq.green's ``poll`` uses and which fails in a process with
    descriptors past 1024."""
    if deadline is None:
        return True
    while not has_input(socket):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if not FAST_PATH:
            return bool(socket.poll(remaining * 1000, zmq.POLLIN))
        with gevent.Timeout(remaining, False):
            socket._wait_read()  # zmq.green's: returns once the socket may have input
    return True
