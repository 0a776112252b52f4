"""Sending and receiving whole batches on zmq.green sockets, cheaply.

zmq delivers a multipart message atomically: once its first frame can be
received, all can; once its first frame is queued for sending, the rest
will be. So only the first frame goes through zmq.green's cooperative
wait; the others use the plain (non-waiting) socket calls with integer
flags, which spares a greenlet check and several enum operations per frame.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import zmq
from zmq.backend import Socket as _PlainSocket

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)
_EVENTS = zmq.EVENTS
COPY_THRESHOLD = 64 * 1024  # frames this big are handed to zmq without a copy

_plain_recv = _PlainSocket.recv
_plain_send = _PlainSocket.send
_plain_get = _PlainSocket.get


def recv_frames(socket: Any) -> list[bytes]:
    """The frames of the next multipart message (waits cooperatively)."""
    try:
        first = _plain_recv(socket, _NOBLOCK)
    except zmq.Again:
        first = socket.recv()  # zmq.green's: waits for input
    frames = [first]
    while _plain_get(socket, _RCVMORE):
        frames.append(_plain_recv(socket, _NOBLOCK))
    socket.get(_EVENTS)  # zmq.green's get (not getsockopt): wakes other waiters
    return frames


def send_frames(socket: Any, frames: Sequence[Any], wait: bool = True) -> None:
    """Send `frames` as one multipart message; waits cooperatively while the
    socket cannot take it, or (with ``wait=False``) raises `zmq.Again`."""
    last = len(frames) - 1
    more = _SNDMORE if last else 0
    try:
        _plain_send(socket, frames[0], _NOBLOCK | more, True)
    except zmq.Again:
        if not wait:
            raise
        socket.send(frames[0], more)  # zmq.green's: waits for room
    for i in range(1, last):
        frame = frames[i]
        _plain_send(socket, frame, _NOBLOCK | _SNDMORE, len(frame) < COPY_THRESHOLD)
    if last:
        frame = frames[last]
        _plain_send(socket, frame, _NOBLOCK, len(frame) < COPY_THRESHOLD)
    socket.get(_EVENTS)


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time `timeout` seconds from now (None: no deadline)."""
    return None if timeout is None else time.monotonic() + timeout


def wait_readable(socket: Any, deadline: float | None) -> bool:
    """Wait cooperatively until `socket` has input; False if `deadline` passed first."""
    if deadline is None:
        return True
    remaining = deadline - time.monotonic()
    return remaining > 0 and bool(socket.poll(remaining * 1000, zmq.POLLIN))
