"""HMAC-SHA256 signatures with a key shared by every process of a cluster."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from typing import Any

from ..wire.curve import KEY_VARIABLE

_process_key: bytes | None = None
BLOCK = 64  # SHA-256's block size: HMAC pads (or hashes) the key to it


def resolve_key(key: bytes | str | None = None) -> bytes:
    """The signing key: `key` if given, else ``$GREENPYLM_KEY``, else one key
    made at random for this process (enough for a single-process cluster;
    processes that do not share a key refuse each other's code)."""
    global _process_key
    if key is None:
        key = os.environ.get(KEY_VARIABLE) or None
    if key is None:
        if _process_key is None:
            _process_key = secrets.token_bytes(32)
        return _process_key
    key = key.encode() if isinstance(key, str) else bytes(key)
    if not key:
        raise ValueError("the signing key is empty")
    return key


class Signer:
    """Signs and checks byte strings with one key: HMAC-SHA256 (RFC 2104).

    The two keyed SHA-256 states of HMAC (key XOR ipad, key XOR opad) are
    made once; a signature copies them, where `hmac.digest` keys both again
    for every message. Signed strings that start alike (the messages of one
    call) can share more: `keyed` makes the inner state over their common
    prefix once, and `sign` and `verify` go on `after` it.
    `tests/test_shipping.py` checks both against `hmac.digest`."""

    def __init__(self, key: bytes | str | None = None) -> None:
        key = resolve_key(key)
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def derived(self, label: bytes) -> "Signer":
        """A signer whose key is this one's signature of `label`: a key of its
        own for another use of the same secret (sealed batches, say)."""
        return Signer(self.sign(label))

    def keyed(self, prefix: bytes) -> Any:
        """The inner state of HMAC over `prefix`, for `sign` and `verify` to go on after."""
        inner = self._inner.copy()
        inner.update(prefix)
        return inner

    def sign(self, data: bytes, after: Any = None) -> bytes:
        """The HMAC-SHA256 of `data`, or of the prefix `after` was `keyed` with, then `data`."""
        inner = (self._inner if after is None else after).copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def verify(self, data: bytes, signature: bytes, after: Any = None) -> bool:
        """Whether `signature` is this key's signature of `data` (`after` as in
        `sign`), compared in constant time."""
        return hmac.compare_digest(self.sign(data, after), signature)


def digest_of(data: bytes) -> bytes:
    """The SHA-256 digest that names a piece of shipped code."""
    return hashlib.sha256(data).digest()
