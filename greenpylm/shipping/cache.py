"""A bounded cache of shipped callables, by digest, least recently used out first."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable

import dill

from ..wire import GreenpylmError
from .bundle import Shipped

DEFAULT_SIZE = 256


class CodeRefused(GreenpylmError):
    """Code (or a pickle) that may not run: unsigned, signed with another key, malformed."""


class CallableCache:
    """The callables a server was shipped, `size` at most, by digest.

    `get` returns None for a digest it does not hold (never seen, evicted,
    or the server restarted), so that the caller can ask for the code again.
    Only `Seal.open` adds to it, after checking the signature.
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("the callable cache holds at least one callable")
        self.size = size
        self._callables: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()
        self.loaded = 0  # callables unpickled so far (each code frame entry once)

    def add(self, entries: Iterable[Shipped]) -> None:
        """Unpickle and keep `entries` (checked code only: see `Seal.open`)."""
        for entry in entries:
            if entry.digest in self._callables:
                self._callables.move_to_end(entry.digest)
                continue
            try:
                function = dill.loads(entry.code)
            except Exception as exc:
                raise CodeRefused(f"cannot load shipped code: {type(exc).__name__}: {exc}") \
                    from None
            if not callable(function):
                raise CodeRefused(f"shipped code is a {type(function).__name__}, not a callable")
            self._callables[entry.digest] = function
            self.loaded += 1
            if len(self._callables) > self.size:
                self._callables.popitem(last=False)

    def get(self, digest: bytes) -> Callable[..., Any] | None:
        """The callable named `digest`, or None if not held."""
        function = self._callables.get(digest)
        if function is not None:
            self._callables.move_to_end(digest)
        return function

    def evict(self, digest: bytes) -> bool:
        """Forget one callable; True if it was there."""
        return self._callables.pop(digest, None) is not None

    def clear(self) -> None:
        """Forget every callable (a restarted server starts this way)."""
        self._callables.clear()

    def __len__(self) -> int:
        return len(self._callables)

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._callables
