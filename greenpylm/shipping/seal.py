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

Between processes that hold the key and consume what they receive (the
links of a chain), a whole packed batch is signed once instead: a *sealed*
batch (`encode`, `checks`). Its messages are `VOUCHED` for until they leave.
"""
from __future__ import annotations

import pickle
import struct
from typing import Any

import dill

from ..wire import Message, ProtocolError, encode
from ..wire.frames import TAG_SEALED, packed
from ..wire.message import VOUCHED
from .bundle import Bundle, Shipped
from .cache import DEFAULT_SIZE, CallableCache, CodeRefused
from .signing import Signer, digest_of

BYTES = (bytes, bytearray, memoryview)
SHIPPED_STEP = ".@"  # in a function string: a step that runs shipped code
_LENGTHS = struct.Struct(">HHH")  # of function, client and digest
_STAGE = struct.Struct(">I")
SEALED_BATCH_KEY = b"greenpylm sealed batch"  # what the batch key is derived with


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
        self.batch_signer = self.signer.derived(SEALED_BATCH_KEY)
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

    def sign(self, message: Message, deferred: bool = False) -> None:
        """Pickle a payload that is not bytes, and sign what would be unpickled.
        `deferred`: leave the signature to whoever sends the message (`encode`),
        and mark it `VOUCHED` for meanwhile.

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
        if message.code is None and not message.pickled and SHIPPED_STEP not in message.function:
            message.signature = b""
        elif deferred:
            message.signature = VOUCHED
        else:
            shared, own = self._signed(message)
            message.signature = self.signer.sign(own, after=shared)

    def encode(self, messages: list[Message], max_frame: int | None = None) -> list:
        """The frames of `messages`, for a peer that holds the key and consumes
        them: one sealed batch if they pack and this process vouches for each
        that needs a signature; otherwise a batch whose vouched messages are
        signed one by one (before `encode` may raise for one of them, so that a
        caller that sends the others after all sends them signed)."""
        try:
            frame = packed(messages) if self._sealing(messages) else None
        except ProtocolError:
            frame = None  # a field that cannot be encoded: `encode` below says which
        if frame is not None:
            return [TAG_SEALED, frame, self.batch_signer.sign(frame)]
        for message in messages:
            if message.signature is VOUCHED:
                self.sign(message)
        return encode(messages, max_frame, pack=True)

    @staticmethod
    def _sealing(messages: list[Message]) -> bool:
        """Whether a seal is worth it and allowed: some of `messages` need a
        signature, and this process vouches for each of those (a seal never
        covers one forwarded with its sender's signature, or with none)."""
        wanted = False
        for message in messages:
            signature = message.signature
            if signature is VOUCHED:
                wanted = True
            elif signature or not message.dropped and (
                    message.pickled or SHIPPED_STEP in message.function):
                return False
        return wanted

    def checks(self, frame: bytes, seal: bytes) -> bool:
        """Whether `seal` is this key's seal of the packed `frame` (`BatchSeal`)."""
        return self.batch_signer.verify(frame, seal)

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
        if message.signature is not VOUCHED:  # VOUCHED: its batch's seal was checked
            self._check(message)
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

    def _check(self, message: Message) -> None:
        """Raise `CodeRefused` unless `message` carries this key's signature."""
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
