"""Opt-in offloading of CPU-bound steps, so that they do not starve the hub.

A step marked with `in_thread` runs in gevent's thread pool: the hub's
thread keeps serving (the cache service, other requests, heartbeats)
between the interpreter's thread switches while the computation runs.
Mark a server or worker method, or a callable before shipping it::

    class Crunch(Worker):
        @in_thread
        def factor(self, payload): ...

    client.eval([("server", in_thread(lambda n: slow(n)))], 10**9)
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import gevent

F = TypeVar("F", bound=Callable[..., Any])
MARK = "greenpylm_offload"


def in_thread(function: F) -> F:
    """Mark `function` to run in gevent's thread pool when a server applies it."""
    setattr(function, MARK, "thread")
    return function


def runner(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """What calls `function(argument)`: itself, or, if it is marked so, a
    function that calls it in the thread pool."""
    if getattr(function, MARK, None) != "thread":
        return function

    def in_pool(argument: Any) -> Any:
        return gevent.get_hub().threadpool.apply(function, (argument,))
    return in_pool
