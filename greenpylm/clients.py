"""The client of servers and masters, with pylm's names and signatures.

A client keeps its sockets for its whole life: a DEALER to the server's
cache service and, when the server offers one (its cache tells the
``client_address``), a DEALER to its client link: requests go out and
results come back on that one connection, which nobody else can read or
send into. A server built from pylm's parts, or a call whose results come
from elsewhere (a pipeline: `sub_address` given), is reached pylm's way: a
PUSH to its pull service and a SUB to its publisher, subscribed to the
client's id. Either way, the client waits for the server's *welcome* before
its first call, so no reply is sent before it listens; a welcome it has not
seen before (a new connection, a restarted server) makes it send again
what is outstanding, a bounded number of times per message. A job keeps at
most `window` messages in flight, so memory stays bounded everywhere.
"""
from __future__ import annotations

import functools
import sys
import time
import uuid
from typing import Any, Iterable, Iterator

import gevent
import zmq.green as zmq
from gevent.event import Event
from gevent.lock import Semaphore

from .cache_client import CONNECT_TIMEOUT, CacheClient
from .calls import RESEND_AFTER, Call, plan, steps_of
from .client_base import ClientBase
from .log import DEFAULT_LEVEL
from .patching import check_patch_order
from .progress import progress_bar
from .shipping import Shipped
from .wire import CallTimeout, MissingKeyError
from .wire import links
from .wire.frames import welcome_nonce
from .wire.transport import deadline_after, send_frames

#: what `eval` and `job` call: ``'server.method'`` or a list of ``'server.method'``
#: and ``('server', callable)`` entries, one per step of a pipeline
Function = str | tuple | list

DEFAULT_WINDOW = 2000
DEFAULT_BATCH = 128
#: seconds without a word from the server after which a client's lane reconnects
#: seconds of silence, while calls wait, after which a client says hello again
#: (a restarted server, a new connection: the welcome it answers tells)
HELLO_EVERY = 1.0
HELLO = [b""]


@functools.lru_cache(maxsize=256)
def plan_of(function: str) -> tuple[str, list[Shipped]]:
    """The plan of a function given as a string (nothing to ship: kept)."""
    return plan(steps_of(function))


class Client(ClientBase):
    """Calls the methods of a server (``'server.method'``) and uses its cache.

    Addresses not given are fetched from the server's cache service at
    ``db_address``. With `session`, messages carry it as their pipeline id
    and the session's cache keys are its own: no other session, and no
    client without one, sees them (pylm prefixed them with the session, so
    ``"alic"`` + ``"etoken"`` was ``"alice"`` + ``"token"``).
    The first call fails with `CallTimeout` if the server cannot be reached
    within `connect_timeout` seconds (None: it waits for ever), and says so
    in the log after a few seconds of waiting.
    """

    def __init__(self, server_name: str, db_address: str, push_address: str | None = None,
                 sub_address: str | None = None, session: str | None = None,
                 logging_level: int | str = DEFAULT_LEVEL, this_config: bool = False, *,
                 context: Any = None, window: int = DEFAULT_WINDOW,
                 batch_size: int = DEFAULT_BATCH, key: bytes | str | None = None,
                 connect_timeout: float | None = CONNECT_TIMEOUT) -> None:
        super().__init__(f"client:{server_name}", logging_level, context, key, window,
                         batch_size)
        self.server_name = server_name
        #: seconds the first call waits to reach the server (None: for ever)
        self.connect_timeout = connect_timeout
        self.db_address = db_address
        if sub_address:  # results come down a chain (a pipeline): no ledger on it
            self.resend_after = RESEND_AFTER
        self.push_address = push_address
        self.sub_address = sub_address
        self.session = session
        self.this_config = this_config
        self.uuid = str(uuid.uuid4())
        self.pipeline = session or self.uuid
        check_patch_order(self.log)
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        session=session or "", log=self.log, keys=self.keys)
        self._welcome: bytes | None = None  # the nonce of the server's last welcome
        self._topic = False  # replies arrive on a subscription, after a topic frame
        self.replies_from = ""  # the address results come from (the lane, or sub_address)
        self._heard = 0.0  # when the lane last brought anything
        self._hello_timer: Any = None
        self._connecting = Semaphore()

    # -- connections ------------------------------------------------------
    def _connect(self, deadline: float | None) -> None:
        """Open the sockets, wait for the server's welcome (`connect_timeout` at most)."""
        if self.connect_timeout is not None:
            limit = time.monotonic() + self.connect_timeout
            deadline = limit if deadline is None else min(deadline, limit)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._connecting.acquire(timeout=timeout):
            raise CallTimeout(f"another greenlet is still connecting to {self.server_name!r}")
        try:
            if self._push is None:
                self._open(deadline)
                self._dispatcher.reopen()
            if self._welcome is None and not self._dispatcher.wait(
                    lambda: self._welcome is not None, Event(), deadline):
                raise CallTimeout(f"no welcome from {self.server_name!r} at {self.replies_from} "
                                  f"within {timeout:.3g}s (is the server up?)")
        finally:
            self._connecting.release()

    def _open(self, deadline: float | None) -> None:
        """The server's client link if it offers one; else pylm's PUSH and SUB
        (addresses given, or a server built from pylm's parts)."""
        if self.this_config and not (self.push_address and self.sub_address):
            raise ValueError("this_config=True needs both push_address and sub_address")
        lane = None
        if not (self.push_address or self.sub_address):
            try:
                lane = self._config("client_address", deadline)
            except MissingKeyError:
                pass  # a server made of pylm's parts: it publishes its results
        if lane:
            socket = links.new_socket(self.context, zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 1000)
            socket.setsockopt(zmq.RCVHWM, 0)  # the window bounds what queues here
            links.connect(socket, lane, self.keys)
            self._push = self._replies = socket
            self.replies_from, self._topic = lane, False
            self._heard = time.monotonic()
            self._hello_timer = gevent.get_hub().loop.timer(HELLO_EVERY, HELLO_EVERY)
            self._hello_timer.start(self._hello_if_quiet)
            self._send(HELLO)
            self.log.debug("calling through the lane at {}", lane)
            return
        self.push_address = self.push_address or self._config("pull_address", deadline)
        self.sub_address = self.sub_address or self._config("pub_address", deadline)
        self._replies = links.new_socket(self.context, zmq.SUB)
        self._replies.setsockopt(zmq.RCVHWM, 0)  # the window bounds what queues here
        links.connect(self._replies, self.sub_address, self.keys)
        self._replies.setsockopt(zmq.SUBSCRIBE, self.uuid.encode())
        self._push = links.new_socket(self.context, zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 1000)
        links.connect(self._push, self.push_address, self.keys)
        self.replies_from, self._topic = self.sub_address, True
        self.log.debug("sending to {}, listening to {}", self.push_address, self.sub_address)

    def _hello_if_quiet(self) -> None:
        """(A hub timer.) Say hello again if calls wait and the server has been
        silent: after a restart or a new connection, its welcome is new."""
        waiting = self._welcome is None or self._dispatcher.expecting
        if waiting and time.monotonic() - self._heard > HELLO_EVERY \
                and self._push is not None and not self._sending.locked():
            try:
                send_frames(self._push, HELLO, wait=False)
            except zmq.Again:
                pass  # the connection is down: zmq queues nothing more now; next time

    def _config(self, key: str, deadline: float | None) -> str:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.cache_client.request("get", key, timeout=timeout, config=True).decode()

    def close(self) -> None:
        """Close the client's sockets."""
        if self._hello_timer is not None:
            self._hello_timer.stop()
            self._hello_timer = None
        super().close()
        self._welcome = None

    # -- calls ------------------------------------------------------------
    def eval(self, function: Function, payload: Any, messages: int = 1, cache: str = "", *,
             timeout: float | None = None) -> Any:
        """Call `function` with `payload`: the result, or a list of `messages` results.

        A step that drops the message (returns None) makes the result None.
        Raises `RemoteError` for an error on the server, `CallTimeout` if no
        result arrived within `timeout` seconds.
        """
        results = list(self._call(function, cache, timeout).run(
            [payload], messages, timeout, keep_drops=True))
        return results[0] if messages == 1 else results

    def job(self, function: Function, generator: Iterable[Any], messages: int = sys.maxsize,
            cache: str = "", *, timeout: float | None = None, ordered: bool = False,
            with_input: bool = False, progress: bool = False) -> Iterator[Any]:
        """Send every payload of `generator` to `function`; yield results as they come.

        The job ends after `messages` results (pylm's way; give it when a step
        fans out, as scatter and MuxWorker do) or, when `messages` is not
        given, once every message sent has been answered or dropped.
        `timeout` bounds the wait for each next result; `ordered` yields
        results in input order; `with_input` yields ``(input, result)`` pairs;
        `progress` shows a progress bar on a terminal (with tqdm if installed:
        ``pip install greenpylm[progress]``), and nothing when stderr is not one.
        """
        results = self._call(function, cache, timeout).run(
            generator, messages, timeout, keep_drops=False, ordered=ordered, with_input=with_input)
        if not progress:
            return results
        total = messages if messages != sys.maxsize else (
            len(generator) if hasattr(generator, "__len__") else None)
        return progress_bar(results, total)

    def _call(self, function: Function, cache: str, timeout: float | None) -> Call:
        if self._push is None or self._welcome is None:
            self._connect(deadline_after(timeout))
        planned = plan_of(function) if isinstance(function, str) else plan(steps_of(function))
        return super()._call(planned, cache, self.window)

    def unwrap(self, frames: list) -> list | None:
        """The batch (after the topic frame of a subscription); None for a welcome."""
        if self._topic:
            frames = frames[1:]
        else:
            self._heard = time.monotonic()
        nonce = welcome_nonce(frames)
        if nonce is None:
            return frames
        if nonce != self._welcome:  # not a repeat of the welcome that let the calls on
            if self._welcome is not None:
                self.log.info("welcomed anew at {} (a new connection, or the server "
                              "restarted): sending outstanding messages again", self.replies_from)
                self._dispatcher.welcomed_again()
            self._welcome = nonce
            self._dispatcher.wake_all()
        return None
