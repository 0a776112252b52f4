"""`ClientBase`: what greenpylm's clients share.

A `Client` of servers and masters, the `LoopClient` of chains and the
chained `Client` all sign what they ship with a `Seal`, log through
loguru, send batches on one socket (one greenlet at a time), read their
replies for every greenlet that shares them (a `Dispatcher`), run each
`eval` or `job` as a `Call`, and close their sockets at the end.
"""
from __future__ import annotations

from typing import Any

import zmq.green as zmq
from gevent.lock import Semaphore

from .cache_client import CacheClient, UsesCache
from .calls import Call, Dispatcher
from .window import WINDOW_BYTES
from .log import HasLogger, Occurrences, get_logger, setup
from .shipping import Seal, Shipped
from .wire import Message, ProtocolError, decode
from .wire.curve import cluster_keys
from .wire.transport import recv_frames, send_frames, wait_readable


class ClientBase(HasLogger, UsesCache):
    """Sending, receiving and the life cycle of a client.

    A subclass connects `_push` (where requests go) and `_replies` (where
    replies come from; None for a client that takes none), and says in
    `unwrap` what of a received multipart message is the batch of replies.
    """

    #: calls send sealed batches (to a chain, whose every process holds the key)
    sends_sealed = False

    def __init__(self, label: str, logging_level: int | str, context: Any,
                 key: bytes | str | None, window: int, batch_size: int) -> None:
        self.context = context or zmq.Context.instance()
        self.seal = Seal(key)
        #: the cluster's CURVE keys (from the same key), or None: plain sockets
        self.keys = cluster_keys(key)
        #: seconds without a reply after which a call sends again what is
        #: outstanding: for paths without a ledger (pipelines, chained servers),
        #: whose stages lose what they held when they crash (None: never)
        self.resend_after: float | None = None
        self.window = max(1, window)
        #: payload bytes a call keeps in flight: inputs and the results expected
        self.window_bytes = WINDOW_BYTES
        self.batch_size = max(1, batch_size)
        setup(label, logging_level)
        self.log = get_logger(label, "client")
        self.problems = Occurrences(self.log)
        self.cache_client: CacheClient | None = None
        self.uuid = ""
        self.pipeline = ""
        self._push: Any = None
        self._replies: Any = None
        self._sending = Semaphore()
        self._dispatcher = Dispatcher(self._read)

    def _send(self, frames: list) -> None:
        with self._sending:
            send_frames(self._push, frames)

    def _read(self, deadline: float | None) -> list[Message]:
        """The replies of the next batch, or none (`deadline` passed, nothing
        to decode, a malformed batch): what the dispatcher reads with."""
        if not wait_readable(self._replies, deadline):
            return []
        frames = self.unwrap(recv_frames(self._replies))
        if frames is None:
            return []
        try:
            return decode(frames, seal=self.seal)
        except ProtocolError as exc:
            if exc.kind == "bad-version":
                raise  # nothing that peer sends will do: every call fails, saying why
            self.problems.note(exc.kind, "ignoring a malformed result: {}", exc)
            return []

    def unwrap(self, frames: list) -> list | None:
        """The frames of the batch of replies in `frames` (None: nothing to decode)."""
        return frames

    def _call(self, planned: tuple[str, list[Shipped]], cache: str, window: int) -> Call:
        return Call(planned, seal=self.seal, client=self.uuid, pipeline=self.pipeline,
                    cache=cache, window=window, batch_size=min(window, self.batch_size),
                    send=self._send, inbox=self._dispatcher.inbox(),
                    resend_after=self.resend_after, window_bytes=self.window_bytes,
                    sealed=self.sends_sealed)

    def close(self) -> None:
        """Close the client's sockets; calls still waiting fail."""
        self._dispatcher.close()
        for socket in {id(s): s for s in (self._push, self._replies) if s is not None}.values():
            socket.close()
        self._push = self._replies = None
        if self.cache_client is not None:
            self.cache_client.close()

    def __enter__(self) -> "ClientBase":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
