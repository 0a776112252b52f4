"""Shipped callables and the bundle frame that carries their code.

A step's callable is serialized once with dill (by value: lambdas,
closures, functions of ``__main__``, partials, callable instances) and
named by the SHA-256 digest of its code. A bundle frame carries the code of
one or more steps::

    repeat: digest (32 bytes) | length (u32, big-endian) | code (length bytes)

It travels signed (HMAC over the whole frame) and is unpickled only after
the signature and every digest have been checked.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable

import dill

from ..wire import ProtocolError
from .signing import digest_of

_ENTRY = struct.Struct(">32sI")


@dataclass(frozen=True)
class Shipped:
    """One callable ready to ship: its digest and its dill code."""

    digest: bytes
    code: bytes

    @classmethod
    def of(cls, function: Callable[..., Any]) -> "Shipped":
        if not callable(function):
            raise TypeError(f"only callables can be shipped, not {type(function).__name__}")
        try:
            code = dill.dumps(function, recurse=True)
        except Exception as exc:
            raise TypeError(f"cannot serialize {function!r} with dill: {exc}") from exc
        return cls(digest_of(code), code)

    @property
    def reference(self) -> str:
        """How a step names this callable in a message's `function`: ``@<hex digest>``."""
        return "@" + self.digest.hex()


class Bundle:
    """Encoding and decoding of the bundle frame."""

    @staticmethod
    def encode(shipped: list[Shipped]) -> bytes:
        """The bundle frame carrying `shipped`."""
        return b"".join(_ENTRY.pack(s.digest, len(s.code)) + s.code for s in shipped)

    @staticmethod
    def decode(frame: bytes) -> list[Shipped]:
        """The entries of a bundle whose signature has been checked; each digest is verified."""
        out, at, size = [], 0, len(frame)
        while at < size:
            if at + _ENTRY.size > size:
                raise ProtocolError("bad-code-frame", "truncated bundle entry")
            digest, length = _ENTRY.unpack_from(frame, at)
            at += _ENTRY.size
            code = bytes(frame[at:at + length])
            at += length
            if len(code) != length:
                raise ProtocolError("bad-code-frame", "truncated code")
            if digest_of(code) != digest:
                raise ProtocolError("bad-code-frame", "code does not match its digest")
            out.append(Shipped(digest, code))
        return out
