"""The client of servers and masters, with pylm's names and signatures.

A client keeps three sockets for its whole life: a DEALER to the server's
cache service, a PUSH to its pull service and one SUB to its pub service,
subscribed to the client's id. Before the first call it waits for the
server's *welcome* on that subscription, so no reply is ever published
before the client listens (pylm subscribed anew at every call and could lose
replies). A job keeps at most `window` messages in flight, so memory stays
bounded and the server's publisher never drops a result.
"""
from __future__ import annotations

import sys
import time
import uuid
from typing import Any, Iterable, Iterator

import zmq.green as zmq
from gevent.event import Event
from gevent.lock import Semaphore

from .patching import check_patch_order
from .log import DEFAULT_LEVEL, HasLogger, Occurrences, get_logger, setup
from .cache_client import CacheClient, UsesCache
from .calls import Call, Dispatcher, Step, plan
from .progress import progress_bar
from .shipping import Seal
from .wire import CallTimeout, Message, ProtocolError, decode
from .wire.frames import TAG_WELCOME
from .wire.transport import deadline_after, recv_frames, send_frames, wait_readable

#: what `eval` and `job` call: ``'server.method'`` or a list of ``'server.method'``
#: and ``('server', callable)`` entries, one per step of a pipeline
Function = str | tuple | list

DEFAULT_WINDOW = 2000
DEFAULT_BATCH = 128
PLANS_KEPT = 256  # functions given as strings whose plan a client keeps


class Client(HasLogger, UsesCache):
    """Calls the methods of a server (``'server.method'``) and uses its cache.

    Addresses not given are fetched from the server's cache service at
    ``db_address``. With `session`, messages carry it as their pipeline id
    and cache keys are stored prefixed with it (``session + key``, as pylm's
    `set` does; here `get` and `delete` prefix too), so that sessions sharing a
    server do not see each other's keys.
    """

    def __init__(self, server_name: str, db_address: str, push_address: str | None = None,
                 sub_address: str | None = None, session: str | None = None,
                 logging_level: int | str = DEFAULT_LEVEL, this_config: bool = False, *,
                 context: Any = None, window: int = DEFAULT_WINDOW,
                 batch_size: int = DEFAULT_BATCH, key: bytes | str | None = None) -> None:
        self.server_name = server_name
        self.db_address = db_address
        self.push_address = push_address
        self.sub_address = sub_address
        self.session = session
        self.this_config = this_config
        self.uuid = str(uuid.uuid4())
        self.pipeline = session or self.uuid
        self.window = max(1, window)
        self.batch_size = max(1, batch_size)
        self.context = context or zmq.Context.instance()
        self.seal = Seal(key)
        label = f"client:{server_name}"
        setup(label, logging_level)
        self.log = get_logger(label, "client")
        self.problems = Occurrences(self.log)
        check_patch_order(self.log)
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        prefix=session or "", log=self.log)
        self._push: Any = None
        self._sub: Any = None
        self._welcomed = False
        self._connecting = Semaphore()
        self._sending = Semaphore()
        self._dispatcher = Dispatcher(self._read)
        self._plans: dict[str, tuple[str, list]] = {}

    # -- connections ------------------------------------------------------
    def _connect(self, deadline: float | None) -> None:
        """Fetch missing addresses, connect, wait for the server's welcome."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._connecting.acquire(timeout=timeout):
            raise CallTimeout(f"another greenlet is still connecting to {self.server_name!r}")
        try:
            if self._push is None:
                if not (self.push_address and self.sub_address) and self.this_config:
                    raise ValueError("this_config=True needs both push_address and sub_address")
                if not self.push_address:
                    self.push_address = self._config("pull_address", deadline)
                if not self.sub_address:
                    self.sub_address = self._config("pub_address", deadline)
                self._sub = self.context.socket(zmq.SUB)
                self._sub.setsockopt(zmq.LINGER, 0)
                self._sub.setsockopt(zmq.RCVHWM, 0)  # the window bounds what can queue here
                self._sub.connect(self.sub_address)
                self._sub.setsockopt(zmq.SUBSCRIBE, self.uuid.encode())
                self._push = self.context.socket(zmq.PUSH)
                self._push.setsockopt(zmq.LINGER, 1000)
                self._push.connect(self.push_address)
                self._dispatcher = Dispatcher(self._read)
                self.log.debug("sending to {}, listening to {}", self.push_address,
                               self.sub_address)
            if not self._welcomed and not self._dispatcher.wait(
                    lambda: self._welcomed, Event(), deadline):
                raise CallTimeout(f"no welcome from the server's publisher at {self.sub_address} "
                                  f"within {timeout}s (is the server up?)")
        finally:
            self._connecting.release()

    def _config(self, key: str, deadline: float | None) -> str:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.cache_client.request("get", key, timeout=timeout).decode()

    def close(self) -> None:
        """Close the client's sockets."""
        self._dispatcher.close()
        self.cache_client.close()
        for socket in (self._push, self._sub):
            if socket is not None:
                socket.close()
        self._push = self._sub = None
        self._welcomed = False

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

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
        if self._push is None or not self._welcomed:
            self._connect(deadline_after(timeout))
        return Call(self._plan(function), seal=self.seal, client=self.uuid,
                    pipeline=self.pipeline, cache=cache, window=self.window,
                    batch_size=self.batch_size, send=self._send,
                    inbox=self._dispatcher.inbox())

    def _plan(self, function: Function) -> tuple[str, list]:
        """`plan` of the steps of `function`; kept for functions given as strings."""
        if not isinstance(function, str):
            return plan(self._steps(function))
        planned = self._plans.get(function)
        if planned is None:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            planned = self._plans[function] = plan(self._steps(function))
        return planned

    def _send(self, frames: list) -> None:
        with self._sending:
            send_frames(self._push, frames)

    @staticmethod
    def _steps(function: Function) -> list[Step]:
        """``'server.method'``, or a list of those and ``('server', callable)`` entries."""
        entries = [function] if isinstance(function, (str, tuple)) else list(function)
        steps = []
        for entry in entries:
            if isinstance(entry, str):
                server, dot, method = entry.partition(".")
                if not dot:
                    raise ValueError(f"a step is 'server.method', not {entry!r}")
                steps.append((server, method))
            elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
                steps.append(entry)
            else:
                raise TypeError(f"a step is 'server.method' or ('server', callable), "
                                f"not {entry!r}")
        return steps

    def _read(self, deadline: float | None) -> list[Message]:
        """The messages of the next batch published to this client, or none (a
        welcome, a malformed batch, or `deadline` passed): the dispatcher's."""
        if not wait_readable(self._sub, deadline):
            return []
        frames = recv_frames(self._sub)
        if len(frames) == 2 and frames[1] == TAG_WELCOME:
            if self._welcomed:  # again: the server restarted, or we reconnected
                self.log.info("welcomed again by {}: sending outstanding messages again",
                              self.sub_address)
                self._dispatcher.welcomed_again()
            self._welcomed = True
            self._dispatcher.wake_all()
            return []
        try:
            return decode(frames[1:])
        except ProtocolError as exc:
            self.problems.note(exc.kind, "ignoring a malformed result: {}", exc)
            return []


def client_of(server: Any) -> Client:
    """A client of `server` itself (in its process, its context), found through
    its cache service: what an HTTP gateway part of that server calls it with."""
    return Client(server.name, server.cache["db_address"].decode(),
                  logging_level=server.log_level, context=server.context)
