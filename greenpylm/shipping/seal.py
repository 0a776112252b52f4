"""Signing and opening what a message carries that would be unpickled.

A message may carry a bundle of shipped code (`code`, named by `digest`),
a pickled payload (`pickled`), or name shipped code a server already holds
(a step ``server.@<digest>``). Any of these is covered by one HMAC-SHA256
`signature` over the `function` string, the client and the digest, then the
payload's kind (pickled or not: a signed raw payload can never be passed
off as a pickle), the message id, the stage and the payload: `open` checks
it before anything is unpickled or run, so a captured message can be
neither aimed at other steps nor run by someone without the key. Whoever
moves a message on to its next stage signs it again (it holds the key).
The fields the messages of a call share come first, so that their part of
the hashing is done once for a batch.
"""
from __future__ import annotations

import pickle
import struct
from typing import Any

import dill

from ..wire import Message, ProtocolError
from .bundle import Bundle, Shipped
from .cache import DEFAULT_SIZE, CallableCache, CodeRefused
from .signing import Signer, digest_of

BYTES = (bytes, bytearray, memoryview)
SHIPPED_STEP = ".@"  # in a function string: a step that runs shipped code
_LENGTHS = struct.Struct(">HHH")  # of function, client and digest
_STAGE = struct.Struct(">I")


def dumps(value: Any) -> bytes:
    """Pickle a payload object (dill for what pickle cannot do, lambdas say)."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return dill.dumps(value, recurse=True)


class Seal:
    """One process's key and callable cache: signs outgoing messages, opens incoming ones."""

    def __init__(self, key: bytes | str | None = None, cache_size: int = DEFAULT_SIZE) -> None:
        self.signer = Signer(key)
        self.callables = CallableCache(cache_size)
        self._shared: tuple = (None, None, None, None)  # see `_signed`

    # -- outgoing ---------------------------------------------------------
    @staticmethod
    def enclose(message: Message, shipped: list[Shipped]) -> None:
        """Make `message` carry the code of `shipped`."""
        message.code = Bundle.encode(shipped)
        message.digest = digest_of(message.code)

    @staticmethod
    def strip(message: Message) -> None:
        """Drop the code a message carries (nobody downstream needs it)."""
        message.code = None
        message.digest = b""

    def sign(self, message: Message) -> None:
        """Pickle a payload that is not bytes, and sign what would be unpickled.

        A message that ends here (an error, a drop) carries nothing to
        unpickle and is never signed: a server must not vouch for what it
        passes on without having checked it.
        """
        if message.error is not None or message.dropped:
            message.payload = b""
            message.pickled = False
            self.strip(message)
            message.signature = b""
            return
        if not isinstance(message.payload, BYTES):
            message.payload = dumps(message.payload)
            message.pickled = True
        if message.code is not None or message.pickled or SHIPPED_STEP in message.function:
            shared, own = self._signed(message)
            message.signature = self.signer.sign(own, after=shared)
        else:
            message.signature = b""

    # -- incoming ---------------------------------------------------------
    def open(self, message: Message, *, wanted: bytes) -> None:
        """Check the signature, load the shipped callable `wanted` (a digest,
        or b"" for none: the others in the bundle are for other steps),
        unpickle the payload.

        Raises `CodeRefused` (nothing unpickled) if the message is unsigned,
        signed with another key or for other steps, or its code is malformed.
        """
        if message.code is None and not message.pickled and not wanted:
            return
        if not message.signature:
            raise CodeRefused("the message carries code or a pickle but is not signed; every "
                              "process needs the same key (`key=` or $GREENPYLM_KEY)")
        if message.code is not None and digest_of(message.code) != message.digest:
            raise CodeRefused("the code does not match its digest")
        shared, own = self._signed(message)
        if not self.signer.verify(own, message.signature, after=shared):
            raise CodeRefused("the signature does not match: the message is signed with "
                              "another key (every process needs the same key: `key=` or "
                              "$GREENPYLM_KEY), or it was changed on the way")
        if message.code is not None:
            try:
                entries = Bundle.decode(message.code)
            except ProtocolError as exc:
                raise CodeRefused(f"malformed code frame: {exc.detail}") from None
            self.callables.add(e for e in entries if e.digest == wanted)
        if message.pickled:
            try:
                message.payload = pickle.loads(message.payload)
            except Exception as exc:
                raise CodeRefused(f"cannot unpickle the payload: {type(exc).__name__}: {exc}") \
                    from None
            message.pickled = False
        message.signature = b""

    def _signed(self, message: Message) -> tuple[Any, bytes]:
        """The data signed (section 3.7 of docs/protocol.md) in two parts: the
        signer's state keyed with the fields that the messages of a call
        share (kept while they stay the same), and this message's own bytes."""
        function, client, digest = message.function, message.client, message.digest
        shared = self._shared
        if function != shared[0] or client != shared[1] or digest != shared[2]:
            f, c = function.encode(), client.encode()
            shared = self._shared = (function, client, digest, self.signer.keyed(
                _LENGTHS.pack(len(f), len(c), len(digest)) + f + c + digest))
        return shared[3], b"".join((b"P" if message.pickled else b"B", message.id,
                                   _STAGE.pack(message.stage), message.payload))
