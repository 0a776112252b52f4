"""Clients of chained servers: `LoopClient` streams a job into a chain and its
results back out; `Client` only pushes jobs in."""
from __future__ import annotations

import itertools
import sys
from typing import Any, Callable, Iterable, Iterator

import zmq.green as zmq
from gevent.lock import Semaphore

from ..cache_client import CacheClient, UsesCache
from ..calls import Call, Dispatcher, Step, plan
from ..log import DEFAULT_LEVEL, HasLogger, Occurrences, get_logger, setup
from ..shipping import Seal
from ..wire import Message, ProtocolError, decode, encode
from ..wire.transport import recv_frames, send_frames, wait_readable

#: one entry per step of the chain (first step first): a method name or a callable
ChainFunction = str | Callable[..., Any] | list


def chain_steps(function: ChainFunction, first_server: str) -> list[Step]:
    """One step per entry of `function`: ``'server.method'`` as it is; a bare
    method name or a callable runs on whichever server the chain hands it to
    (named `first_server` for the first step)."""
    entries = function if isinstance(function, list) else [function]
    steps = []
    for i, entry in enumerate(entries):
        server, dot, method = entry.partition(".") if isinstance(entry, str) else ("", "", "")
        steps.append((server, method) if dot else (first_server if i == 0 else "", entry))
    return steps


class LoopClient(HasLogger, UsesCache):
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
                 batch_size: int = 128) -> None:
        self.push_address = push_address
        self.pull_address = pull_address
        self.server_name = server_name
        self.window = window
        self.batch_size = batch_size
        self.context = context or zmq.Context.instance()
        self.seal = Seal(key)
        self.uuid = Message().id.hex()
        self.pipeline = pipeline or self.uuid
        label = f"loop-client:{server_name or pull_address}"
        setup(label, logging_level)
        self.log = get_logger(label, "client")
        self.problems = Occurrences(self.log)
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        log=self.log) if db_address else None
        self._push = self.context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 1000)
        self._push.connect(pull_address)
        self._pull = self.context.socket(zmq.PULL)
        self._pull.setsockopt(zmq.LINGER, 0)
        self._pull.connect(push_address)
        self._sending = Semaphore()
        self._dispatcher = Dispatcher(self._read)
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
        return self._call(function, self.window, cache).run(
            generator, messages, timeout, ordered=ordered, with_input=with_input)

    def eval(self, function: ChainFunction, payload: Any, cache: str = "", *,
             timeout: float | None = None) -> Any:
        """The result of one payload through the chain (None if a step dropped it)."""
        return next(iter(self._call(function, 1, cache).run([payload], 1, timeout,
                                                            keep_drops=True)))

    def _call(self, function: ChainFunction, window: int, cache: str) -> Call:
        return Call(plan(chain_steps(function, self.server_name)), seal=self.seal, client=self.uuid,
                    pipeline=self.pipeline, cache=cache, window=window,
                    batch_size=min(window, self.batch_size), send=self._send,
                    inbox=self._dispatcher.inbox())

    def _send(self, frames: list) -> None:
        with self._sending:
            send_frames(self._push, frames)

    def _read(self, deadline: float | None) -> list[Message]:
        """The next batch of results, or none (malformed, or `deadline` passed)."""
        if not wait_readable(self._pull, deadline):
            return []
        try:
            return decode(recv_frames(self._pull))
        except ProtocolError as exc:
            self.problems.note(exc.kind, "ignoring a malformed result: {}", exc)
            return []

    def close(self) -> None:
        """Close the client's sockets."""
        self._dispatcher.close()
        for socket in (self._push, self._pull):
            socket.close()
        if self.cache_client is not None:
            self.cache_client.close()

    def __enter__(self) -> "LoopClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Client(HasLogger, UsesCache):
    """pylm's chained `Client`: pushes jobs into a chain that does not end in a
    client (its last server stores or forwards the results); `job` returns
    the number of messages sent once they are all queued for the first server
    at `pull_address`. With `db_address` (a chained server's cache service)
    it can `set`, `get` and `delete`, as a `LoopClient` can.
    """

    def __init__(self, pull_address: str, db_address: str = "", server_name: str = "",
                 pipeline: str | None = None, logging_level: int | str = DEFAULT_LEVEL, *,
                 key: bytes | str | None = None, context: Any = None,
                 batch_size: int = 128) -> None:
        self.pull_address = pull_address
        self.server_name = server_name
        self.batch_size = max(1, batch_size)
        self.context = context or zmq.Context.instance()
        self.seal = Seal(key)
        self.uuid = Message().id.hex()
        self.pipeline = pipeline or self.uuid
        label = f"chain-client:{server_name or pull_address}"
        setup(label, logging_level)
        self.log = get_logger(label, "client")
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        log=self.log) if db_address else None
        self._push = self.context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 5000)  # what is queued leaves after close
        self._push.connect(pull_address)

    def job(self, function: ChainFunction, generator: Iterable[Any],
            messages: int = sys.maxsize, cache: str = "") -> int:
        """Push every payload of `generator` (at most `messages`) into the chain;
        the number pushed. Steps are given as for `LoopClient.job`."""
        function_text, shipped = plan(chain_steps(function, self.server_name))
        sent, batch = 0, []
        for payload in itertools.islice(generator, messages):
            message = Message(function_text, payload, client=self.uuid, pipeline=self.pipeline,
                              cache=cache)
            if sent == 0 and shipped:
                self.seal.attach(message, shipped)
            self.seal.close(message)
            batch.append(message)
            sent += 1
            if len(batch) >= self.batch_size:
                send_frames(self._push, encode(batch))
                batch = []
        if batch:
            send_frames(self._push, encode(batch))
        return sent

    def close(self) -> None:
        """Close the sockets (queued messages still leave, for up to 5 s)."""
        self._push.close()
        if self.cache_client is not None:
            self.cache_client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["Client", "LoopClient"]
