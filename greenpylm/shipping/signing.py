"""HMAC-SHA256 signatures with a key shared by every process of a cluster."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from ..wire.curve import KEY_VARIABLE

_process_key: bytes | None = None


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
    """Signs and checks byte strings with one key."""

    def __init__(self, key: bytes | str | None = None) -> None:
        # keyed once: a copy of this state signs a message in about 60% of the
        # time `hmac.digest` takes, which keys it again for every message
        self._keyed = hmac.new(resolve_key(key), digestmod=hashlib.sha256)

    def sign(self, data: bytes) -> bytes:
        """The HMAC-SHA256 of `data`."""
        mac = self._keyed.copy()
        mac.update(data)
        return mac.digest()

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `data` (in constant time)."""
        return hmac.compare_digest(self.sign(data), signature)


def digest_of(data: bytes) -> bytes:
    """The SHA-256 digest that names a piece of shipped code."""
    return hashlib.sha256(data).digest()
