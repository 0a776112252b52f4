"""`LoopClient`: streams a job into a chain of servers and its results back out."""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Iterator

import zmq.green as zmq
from gevent.lock import Semaphore

from ..cache_client import CacheClient, UsesCache
from ..calls import Call, Dispatcher, Step, plan
from ..log import DEFAULT_LEVEL, Occurrences, get_logger, setup
from ..shipping import Seal
from ..wire import Message, ProtocolError, decode
from ..wire.transport import recv_frames, send_frames, wait_readable

#: one entry per step of the chain (first step first): a method name or a callable
ChainFunction = str | Callable[..., Any] | list


class LoopClient(UsesCache):
    """Pushes jobs to the first server of a chain at `push_address` and
    receives results on `pull_address`, which it binds (the last server
    pushes there). Results may come back out of order: `job` can pair them
    with their inputs or put them back in input order.
    """

    def __init__(self, push_address: str, pull_address: str, db_address: str = "",
                 server_name: str = "", logging_level: int | str = DEFAULT_LEVEL, *,
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
        label = f"loop-client:{server_name or push_address}"
        setup(label, logging_level)
        self.log = get_logger(label, "client")
        self.problems = Occurrences(self.log)
        self.cache_client = CacheClient(server_name, db_address, self.context, self.uuid,
                                        log=self.log) if db_address else None
        self._push = self.context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 1000)
        self._push.connect(push_address)
        self._pull = self.context.socket(zmq.PULL)
        self._pull.setsockopt(zmq.LINGER, 0)
        try:
            self._pull.bind(pull_address)
        except zmq.ZMQError:
            self._push.close()
            self._pull.close()
            raise
        self._sending = Semaphore()
        self._dispatcher = Dispatcher(self._read)
        self.log.info("sending jobs to {}, results come to {}", push_address, pull_address)

    def job(self, function: ChainFunction, generator: Iterable[Any],
            messages: int = sys.maxsize, ordered: bool = False, timeout: float | None = None,
            with_input: bool = False) -> Iterator[Any]:
        """Stream every payload of `generator` through the chain; yield the results.

        `function` is the first server's method name (each server's
        `next_call` names the next step), a callable for the first step, or
        a list with one method name or callable per step, first step first.
        `ordered` yields results in input order, `with_input` as
        ``(input, result)`` pairs; `timeout` bounds each wait for a result.
        """
        return self._call(function, self.window).run(generator, messages, timeout, ordered=ordered, with_input=with_input)

    def eval(self, function: ChainFunction, payload: Any, timeout: float | None = None) -> Any:
        """The result of one payload through the chain (None if a step dropped it)."""
        return next(iter(self._call(function, 1).run([payload], 1, timeout, keep_drops=True)))

    def _call(self, function: ChainFunction, window: int) -> Call:
        return Call(plan(self._steps(function)), seal=self.seal, client=self.uuid, pipeline=self.uuid,
                    cache="", window=window, batch_size=min(window, self.batch_size),
                    send=self._send, inbox=self._dispatcher.inbox())

    def _send(self, frames: list) -> None:
        with self._sending:
            send_frames(self._push, frames)

    def _steps(self, function: ChainFunction) -> list[Step]:
        entries = function if isinstance(function, list) else [function]
        return [(self.server_name if i == 0 else "", entry) for i, entry in enumerate(entries)]

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
        """Close the client's sockets (and free its pull address)."""
        self._dispatcher.close()
        for socket in (self._push, self._pull):
            socket.close()
        if self.cache_client is not None:
            self.cache_client.close()

    def __enter__(self) -> "LoopClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["LoopClient"]
