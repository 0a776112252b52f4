"""`DictDB`: pylm's in-memory key-value store, a dict with its method names.

A server's cache is such a mapping (``str`` keys, ``bytes`` values). Given
to ``register_*(..., cache=db)`` or to ``Master(cache=db)``, a `DictDB`
presets the server's cache with what it holds. One hub runs every
greenlet in turn, so no lock is needed.
"""
from __future__ import annotations

from typing import Any


class DictDB(dict):
    """A dict with pylm's `get` (None for a missing key), `set`, `delete`, `clean`."""

    def set(self, key: str, value: Any) -> None:
        """Store `value` under `key`."""
        self[key] = value

    def delete(self, key: str) -> None:
        """Remove `key` (`KeyError` if it is not there)."""
        del self[key]

    def clean(self, prefix: str) -> None:
        """Remove every key that starts with `prefix`."""
        for key in [k for k in self if k.startswith(prefix)]:
            del self[key]
