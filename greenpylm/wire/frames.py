"""Encoding of messages to multipart zmq frames and back (see docs/protocol.md).

A zmq multipart message is one *batch*::

    [tag, header_1, payload_1, (error_1), (code_1), header_2, payload_2, ...]

The tag says the protocol, its version and the kind of the batch; each
message is a fixed-layout binary header followed by its payload frame, which
is passed to zmq as it is (no copy into a bigger buffer). Several messages
share one send, which is what lets a stream outrun one-message-per-send.

A *packed* batch carries small messages (no error, no code) in one frame::

    [tag 'P', header_1 + u32 length + payload_1 + header_2 + ...]

A frame costs about a microsecond to send and another to receive, more
than copying a small payload: packing saves all but two of them.

A *sealed* batch is a packed one with one signature for all its messages,
between processes that hold the cluster key (the links of a chain)::

    [tag 'S', packed frame, seal]

Checking it takes one HMAC for the batch instead of one per message; the
key lives in the shipping layer, which `decode` asks through `BatchSeal`.
"""
from __future__ import annotations

import struct
from typing import Any, Iterable, Protocol, Sequence

from .errors import ProtocolError
from .header import (FLAG_CODE, FLAG_DROPPED, FLAG_ERROR, FLAG_PICKLED,  # noqa: F401
                     FLAG_SAME_FIELDS, HEADER, HEADER_SIZE, KNOWN_FLAGS, LENGTHS_AT,
                     HeaderWriter, decode_fields)
from .message import ID_SIZE, VOUCHED, ErrorRecord, Message

MAGIC = b"GPLM"
VERSION = 4
KIND_BATCH = ord("B")
KIND_WELCOME = ord("W")
KIND_PACKED = ord("P")
KIND_SEALED = ord("S")
TAG_BATCH = MAGIC + bytes((VERSION, KIND_BATCH))
TAG_PACKED = MAGIC + bytes((VERSION, KIND_PACKED))
TAG_WELCOME = MAGIC + bytes((VERSION, KIND_WELCOME))
TAG_SEALED = MAGIC + bytes((VERSION, KIND_SEALED))
TAG_SIZE = len(TAG_BATCH)

# a packed message has no more flags than these
PACKED_FLAGS_REFUSED = 0xFF & ~(FLAG_DROPPED | FLAG_PICKLED | FLAG_SAME_FIELDS)
LENGTH = struct.Struct(">I")  # a packed payload's length (4 bytes)
PACK_PAYLOAD = 4096  # the largest payload a packed batch carries
PACK_TOTAL = 256 * 1024  # the most payload bytes one packed batch carries
DEFAULT_MAX_FRAME = 64 * 1024 * 1024


def welcome(nonce: bytes) -> list[bytes]:
    """A server's welcome: from now on, the peer misses nothing. `nonce` names the
    connection (a lane) or the publisher's run: a welcome with a nonce the peer
    already knows is a repeat, never a reason to send anything again."""
    return [TAG_WELCOME, nonce]


def welcome_nonce(frames: Sequence[bytes]) -> bytes | None:
    """The nonce of a welcome (`frames` without a topic frame); None for anything else."""
    return frames[1] if len(frames) == 2 and frames[0] == TAG_WELCOME else None


def encode_header(m: Message) -> bytes:
    """The header frame of one message."""
    return HeaderWriter().header(m)


class BatchSeal(Protocol):
    """What checks the seal of a sealed batch (the shipping layer's `Seal`)."""

    def checks(self, frame: bytes, seal: bytes) -> bool:
        """Whether `seal` is the cluster key's seal of the packed `frame`."""
        ...


def packed(messages: Sequence[Message]) -> bytes | None:
    """The packed frame of `messages`, or None unless each has a small bytes
    payload and no error or code, and all of them `PACK_TOTAL` bytes at most."""
    parts: list = []
    total = 0
    length = LENGTH.pack
    header = HeaderWriter(packed=True).header
    for m in messages:
        payload = m.payload
        if m.error is not None or m.code is not None or \
                not isinstance(payload, (bytes, bytearray)):
            return None
        size = len(payload)
        if size > PACK_PAYLOAD:
            return None
        total += size
        parts += (header(m), length(size), payload)
    return b"".join(parts) if total <= PACK_TOTAL else None


def encode(messages: Iterable[Message], max_frame: int | None = None,
           pack: bool = False) -> list:
    """The frames of one batch holding `messages` (at least one); with
    `max_frame`, a payload or code frame larger than that is a ProtocolError
    (the peer would refuse the whole batch). With `pack`, several messages that all
    qualify (`packed`) go as one packed batch."""
    if pack:
        messages = messages if isinstance(messages, list) else list(messages)
        if len(messages) > 1:  # one message: its frames cost less
            frame = packed(messages)
            if frame is not None:
                return [TAG_PACKED, frame]
    frames: list = [TAG_BATCH]
    append = frames.append
    header = HeaderWriter().header
    for m in messages:
        payload = m.payload
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        if max_frame is not None and (len(payload) > max_frame or (
                m.code is not None and len(m.code) > max_frame)):
            size = max(len(payload), len(m.code or b""))
            raise ProtocolError("oversized", f"a frame of {size} bytes is larger than the "
                                f"frame limit of {max_frame} bytes (max_frame)")
        append(header(m))
        append(payload)
        if m.error is not None:
            append(m.error.to_bytes())
        if m.code is not None:
            append(m.code)
    if len(frames) == 1:
        raise ValueError("a batch holds at least one message")
    return frames


def version_refusal(frames: Sequence[bytes]) -> list | None:
    """For a batch whose tag has another protocol version, an error reply in the
    peer's own version (the header layout is the same in versions 1 to 3),
    so that an older or newer peer reads why it is refused; None otherwise."""
    theirs = foreign_version(frames[0]) if frames else None
    if theirs is None:
        return None
    reply = Message(error=ErrorRecord("ProtocolError", version_mismatch(theirs)),
                    id=header_id(frames[1]) if len(frames) > 1 else None)
    batch = encode([reply])
    batch[0] = MAGIC + bytes((theirs, KIND_BATCH))
    return batch


def foreign_version(tag: bytes) -> int | None:
    """The version of a greenpylm tag frame of another protocol version (None: not one)."""
    return tag[4] if len(tag) == TAG_SIZE and tag[:4] == MAGIC and tag[4] != VERSION else None


def version_mismatch(theirs: int) -> str:
    """What a version mismatch is called, on either side."""
    return (f"protocol version {theirs} from the peer, this greenpylm speaks version "
            f"{VERSION}: run the same greenpylm version on both sides")


def header_id(frame: bytes) -> bytes | None:
    """The message id in a header frame that may be malformed (None if it has none):
    to answer a request that cannot be decoded under its own id."""
    return frame[5:5 + ID_SIZE] if len(frame) >= 5 + ID_SIZE else None


def check_tag(frame: bytes) -> int:
    """The kind of a batch, after checking its tag frame."""
    if len(frame) != TAG_SIZE or frame[:4] != MAGIC:
        raise ProtocolError("bad-tag", "first frame is not a greenpylm tag")
    if frame[4] != VERSION:
        raise ProtocolError("bad-version", version_mismatch(frame[4]))
    kind = frame[5]
    if kind not in (KIND_BATCH, KIND_WELCOME, KIND_PACKED, KIND_SEALED):
        raise ProtocolError("bad-kind", f"unknown batch kind {kind}")
    return kind


def decode(frames: Sequence[bytes], max_frame: int = DEFAULT_MAX_FRAME,
           seal: BatchSeal | None = None) -> list[Message]:
    """The messages of one batch; raises `ProtocolError` on anything malformed.

    Every frame is checked: tag, header layout and lengths, flags, UTF-8 of
    the text fields, the error record, and the size limit `max_frame`. The
    messages of a sealed batch whose seal `seal` checks are `VOUCHED` for;
    without `seal`, or when it does not check, they are unsigned.
    """
    n = len(frames)
    if n == 0:
        raise ProtocolError("empty", "no frames")
    kind = check_tag(frames[0])
    if kind == KIND_PACKED:
        if n != 2:
            raise ProtocolError("bad-packed", f"a packed batch is 2 frames, not {n}")
        return unpack(frames[1])
    if kind == KIND_SEALED:
        if n != 3:
            raise ProtocolError("bad-packed", f"a sealed batch is 3 frames, not {n}")
        checked = seal is not None and seal.checks(frames[1], frames[2])
        return unpack(frames[1], VOUCHED if checked else b"")
    if kind != KIND_BATCH:
        raise ProtocolError("bad-kind", "expected a message batch")
    if n == 1:
        raise ProtocolError("truncated", "a batch holds at least one message")
    out = []
    i = 1
    unpack_header = HEADER.unpack_from
    build = Message.build
    raw, fields = b"", None  # the last header's lengths and text fields, and what they read
    while i < n:
        if i + 1 >= n:
            raise ProtocolError("truncated", f"header at frame {i} has no payload frame")
        header = frames[i]
        payload = frames[i + 1]
        i += 2
        size = len(header)
        if size < HEADER_SIZE:
            raise ProtocolError("bad-header", f"header of {size} bytes is too short")
        flags, stage, mid, lp, lc, lf, lk, ld, ls = unpack_header(header)
        if flags & ~KNOWN_FLAGS:
            raise ProtocolError("bad-header", f"unknown flags {flags:#x}")
        end_d = HEADER_SIZE + lp + lc + lf + lk + ld
        if end_d + ls != size:
            raise ProtocolError("bad-header", "field lengths do not add up to the header size")
        if len(payload) > max_frame:
            raise ProtocolError("oversized", f"payload of {len(payload)} bytes exceeds {max_frame}")
        error = code = None
        if flags & FLAG_ERROR:
            if i >= n:
                raise ProtocolError("truncated", "error frame missing")
            error = ErrorRecord.from_bytes(frames[i])
            i += 1
        if flags & FLAG_CODE:
            if i >= n:
                raise ProtocolError("truncated", "code frame missing")
            code = frames[i]
            if len(code) > max_frame:
                raise ProtocolError("oversized", f"code of {len(code)} bytes exceeds {max_frame}")
            i += 1
        if fields is None or not header.startswith(raw, LENGTHS_AT):
            raw = header[LENGTHS_AT:end_d]
            fields = decode_fields(header, HEADER_SIZE, lp, lc, lf, lk, ld)
        pipeline, client, function, cache, digest = fields
        out.append(build(function, payload, pipeline, client, stage, cache, mid, digest,
                         header[end_d:size] if ls else b"", code, error,
                         flags & FLAG_DROPPED != 0, flags & FLAG_PICKLED != 0))
    return out


def unpack(frame: bytes, sealed: Any = None) -> list[Message]:
    """The messages of a packed batch's frame; raises `ProtocolError` on anything
    malformed. In a `sealed` batch, a message carries no signature of its own:
    each gets `sealed` instead."""
    out = []
    n = len(frame)
    at = 0
    unpack_header = HEADER.unpack_from
    unpack_length = LENGTH.unpack_from
    build = Message.build
    starts_with = frame.startswith
    raw, fields = b"", None  # the last header's lengths and text fields, and what they read
    no_signature = b"" if sealed is None else sealed  # what a message without one gets
    while at < n:
        if n - at < HEADER_SIZE + LENGTH.size:
            raise ProtocolError("truncated", f"a packed message at byte {at} is cut short")
        flags, stage, mid, lp, lc, lf, lk, ld, ls = unpack_header(frame, at)
        if flags & PACKED_FLAGS_REFUSED:
            raise ProtocolError("bad-header", f"flags {flags:#x} in a packed batch (which "
                                "carries no error or code)")
        if ls and sealed is not None:
            raise ProtocolError("bad-header", f"the message at byte {at} of a sealed batch "
                                "carries a signature of its own")
        if flags & FLAG_SAME_FIELDS and (fields is None or lp or lc or lf or lk or ld):
            raise ProtocolError("bad-header", f"the packed message at byte {at} takes the "
                                "fields of the one before it, but " + (
                                    "it is the first" if fields is None else "carries fields"))
        start = at + HEADER_SIZE
        end_d = start + lp + lc + lf + lk + ld
        end = end_d + ls
        if end + 4 > n:
            raise ProtocolError("truncated", f"a packed header at byte {at} is cut short")
        size = unpack_length(frame, end)[0]
        body = end + 4
        stop = body + size
        if size > PACK_PAYLOAD or stop > n:
            raise ProtocolError("bad-packed", f"a packed payload of {size} bytes at byte "
                                f"{body} does not fit")
        if not flags & FLAG_SAME_FIELDS and (fields is None
                                             or not starts_with(raw, at + LENGTHS_AT)):
            raw = frame[at + LENGTHS_AT:end_d]
            fields = decode_fields(frame, start, lp, lc, lf, lk, ld)
        pipeline, client, function, cache, digest = fields
        out.append(build(function, frame[body:stop], pipeline, client, stage, cache, mid,
                         digest, frame[end_d:end] if ls else no_signature, None, None,
                         flags & FLAG_DROPPED != 0, flags & FLAG_PICKLED != 0))
        at = stop
    if not out:
        raise ProtocolError("truncated", "a batch holds at least one message")
    return out
