"""Clients of chained servers: `LoopClient` streams a job into a chain and its
results back out; `Client` only pushes jobs in."""
from __future__ import annotations

import itertools
import sys
import time
from typing import Any, Callable, Iterable, Iterator

import zmq.green as zmq

from ..cache_client import CONNECT_TIMEOUT, WAIT_NOTICE, CacheClient
from ..calls import RESEND_AFTER, Call, plan, steps_of
from ..client_base import ClientBase
from ..log import DEFAULT_LEVEL
from ..shipping import Shipped
from ..wire import CallTimeout, Message, links
from ..wire.transport import deadline_after, wait_readable

#: one entry per step of the chain (first step first): a method name or a callable
ChainFunction = str | Callable[..., Any] | list


class ChainClient(ClientBase):
    """What the clients of a chain share: a PUSH to the first server's
    `pull_address`, the cache of the server at `db_address` (if given), and
    `pipeline` (pylm's session id) on every message. The first call waits
    until the first server accepts the connection, `connect_timeout`
    seconds at most (None: for ever), and says so in the log meanwhile."""

    sends_sealed = True

    def __init__(self, label: str, pull_address: str, db_address: str, server_name: str,
                 pipeline: str | None, logging_level: int | str, context: Any,
                 key: bytes | str | None, window: int, batch_size: int, linger_ms: int) -> None:
        super().__init__(f"{label}:{server_name or pull_address}", logging_level, context, key,
                         window, batch_size)
        self.pull_address = pull_address
        self.server_name = server_name
        self.uuid = Message().id.hex()
        self.pipeline = pipeline or self.uuid
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        log=self.log, keys=self.keys) if db_address else None
        self.connect_timeout: float | None = CONNECT_TIMEOUT
        self._push = links.new_socket(self.context, zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, linger_ms)
        # inproc has no handshake to wait for: its peer is in this process
        self._accepted: Any = None if pull_address.startswith("inproc://") else \
            self._push.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        links.connect(self._push, pull_address, self.keys)

    def _call(self, planned: tuple[str, list[Shipped]], cache: str, window: int) -> Call:
        if self._accepted is not None:
            self._await_first_server()
        return super()._call(planned, cache, window)

    def _await_first_server(self) -> None:
        """Wait until the first server accepted this client's connection."""
        deadline = deadline_after(self.connect_timeout)
        noticed = False
        while True:
            now = time.monotonic()
            look = now + WAIT_NOTICE if deadline is None else min(deadline, now + WAIT_NOTICE)
            if wait_readable(self._accepted, look):
                break  # the one event it watches: a handshake succeeded
            if deadline is not None and time.monotonic() >= deadline:
                raise CallTimeout(f"no server accepted a connection at {self.pull_address} "
                                  f"within {self.connect_timeout:g}s (is the chain's first "
                                  "server up?)")
            if not noticed:
                noticed = True
                self.log.info("no server at {} has accepted the connection yet (is it up?); "
                              "still waiting", self.pull_address)
        self._stop_watching()

    def _stop_watching(self) -> None:
        """No more waiting for a handshake: the monitor goes."""
        if self._accepted is not None:
            self._push.disable_monitor()
            self._accepted.close(0)
            self._accepted = None

    def close(self) -> None:
        self._stop_watching()
        super().close()


class LoopClient(ChainClient):
    """Streams jobs through a chain of servers, with pylm's roles: it pushes to
    `pull_address` (the first server's, bound there) and takes the results
    from `push_address` (bound by the `LastServer`). Results may come back
    out of order: `job` can pair them with their inputs or put them back in
    input order. `server_name` is the first server's name, which a step given
    as a bare method name (``'foo'``) is prefixed with; `pipeline` is pylm's
    session id (the messages' pipeline field).
    """

    def __init__(self, push_address: str, pull_address: str, db_address: str = "",
                 server_name: str = "", pipeline: str | None = None,
                 logging_level: int | str = DEFAULT_LEVEL, *,
                 key: bytes | str | None = None, context: Any = None, window: int = 2000,
                 batch_size: int = 128, connect_timeout: float | None = CONNECT_TIMEOUT) -> None:
        super().__init__("loop-client", pull_address, db_address, server_name, pipeline,
                         logging_level, context, key, window, batch_size, linger_ms=1000)
        self.connect_timeout = connect_timeout
        self.push_address = push_address
        self.resend_after = RESEND_AFTER  # a chain has no ledger: resend after a silence
        self._replies = links.new_socket(self.context, zmq.PULL)
        links.connect(self._replies, push_address, self.keys)
        self.log.info("sending jobs to {}, taking results from {}", pull_address, push_address)

    def job(self, function: ChainFunction, generator: Iterable[Any],
            messages: int = sys.maxsize, cache: str = "", *, ordered: bool = False,
            timeout: float | None = None, with_input: bool = False) -> Iterator[Any]:
        """Stream every payload of `generator` through the chain; yield the results.

        `function` is the first server's method name (each server's
        `next_call` names the next step), a callable for the first step, or
        a list with one method name or callable per step, first step first.
        `ordered` yields results in input order, `with_input` as
        ``(input, result)`` pairs; `timeout` bounds each wait for a result;
        `cache` goes in every message's cache field.
        """
        return self._call(plan(steps_of(function, self.server_name)), cache, self.window).run(
            generator, messages, timeout, ordered=ordered, with_input=with_input)

    def eval(self, function: ChainFunction, payload: Any, cache: str = "", *,
             timeout: float | None = None) -> Any:
        """The result of one payload through the chain (None if a step dropped it)."""
        planned = plan(steps_of(function, self.server_name))
        return next(iter(self._call(planned, cache, 1).run([payload], 1, timeout,
                                                           keep_drops=True)))


class Client(ChainClient):
    """pylm's chained `Client`: pushes jobs into a chain that does not end in a
    client (its last server stores or forwards the results); `job` returns
    the number of messages sent once they are all queued for the first server
    at `pull_address`. With `db_address` (a chained server's cache service)
    it can `set`, `get` and `delete`, as a `LoopClient` can.
    """

    def __init__(self, pull_address: str, db_address: str = "", server_name: str = "",
                 pipeline: str | None = None, logging_level: int | str = DEFAULT_LEVEL, *,
                 key: bytes | str | None = None, context: Any = None,
                 batch_size: int = 128, connect_timeout: float | None = CONNECT_TIMEOUT) -> None:
        # linger: what is queued still leaves after `close`
        super().__init__("chain-client", pull_address, db_address, server_name, pipeline,
                         logging_level, context, key, batch_size, batch_size, linger_ms=5000)
        self.connect_timeout = connect_timeout

    def job(self, function: ChainFunction, generator: Iterable[Any],
            messages: int = sys.maxsize, cache: str = "") -> int:
        """Push every payload of `generator` (at most `messages`) into the chain;
        the number pushed. Steps are given as for `LoopClient.job`."""
        call = self._call(plan(steps_of(function, self.server_name)), cache, self.window)
        return call.push(itertools.islice(generator, messages))


__all__ = ["Client", "LoopClient"]
