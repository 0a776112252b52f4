"""One message's header frame (docs/protocol.md), written and read a batch at a time.

The header is a fixed part (flags, stage, id, the lengths of six fields)
and then the fields: pipeline, client, function, cache key, digest,
signature. The messages of one batch nearly always share the first five
(one call's function, one client and its session): `HeaderWriter` encodes
each distinct set once per batch, and the decoders (`frames.decode`) call
`decode_fields` once per distinct set, so the messages read from a batch
share those strings instead of holding a copy each. In a packed batch, a
message whose first five fields are those of the message before it leaves
them out (`FLAG_SAME_FIELDS`).
"""
from __future__ import annotations

import struct

from .errors import ProtocolError
from .message import ID_SIZE, Message

FLAG_ERROR = 0x01    # an error frame follows the payload frame
FLAG_CODE = 0x02     # a code frame follows (after the error frame, if any)
FLAG_DROPPED = 0x04  # a step returned None: the message ends here
FLAG_PICKLED = 0x08  # the payload is a pickled Python object (signed)
KNOWN_FLAGS = FLAG_ERROR | FLAG_CODE | FLAG_DROPPED | FLAG_PICKLED
FLAG_SAME_FIELDS = 0x10  # packed batches only: the first five fields are the last message's

# flags u8, stage u32, id 16 bytes, then the lengths of the six variable fields
HEADER = struct.Struct(">BI16s6H")
HEADER_SIZE = HEADER.size
PREFIX = struct.Struct(">BI16s")  # the same header, written in parts: flags, stage, id,
FIVE_LENGTHS = struct.Struct(">5H")  # the lengths of the first five fields,
SIGNATURE_LENGTH = struct.Struct(">H")  # the signature's length
NO_SIGNATURE = SIGNATURE_LENGTH.pack(0)
NO_FIELDS = FIVE_LENGTHS.pack(0, 0, 0, 0, 0)
SAME_UNSIGNED = NO_FIELDS + NO_SIGNATURE  # after the prefix, with FLAG_SAME_FIELDS
LENGTHS_AT = 1 + 4 + ID_SIZE  # where the six lengths start
MAX_FIELD = 0xFFFF
FIELD_NAMES = ("pipeline", "client", "function", "cache key", "digest")


class HeaderWriter:
    """Encodes the headers of one batch's messages (a new writer per batch).
    In a `packed` batch, a message whose first five fields are those of the
    message before it is written without them (`FLAG_SAME_FIELDS`)."""

    __slots__ = ("_fields", "_lengths", "_encoded", "_unsigned", "_packed")

    def __init__(self, packed: bool = False) -> None:
        self._fields: tuple | None = None  # the last (pipeline, client, function, cache, digest)
        self._lengths = b""  # their five lengths, packed
        self._encoded = b""  # and their bytes
        self._unsigned = b""  # what follows the prefix in a header without a signature
        self._packed = packed

    def header(self, m: Message) -> bytes:
        """The header frame of `m`; raises `ProtocolError` for a field that
        cannot be encoded (not UTF-8, too long, an id of the wrong size)."""
        fields = (m.pipeline, m.client, m.function, m.cache, m.digest)
        if fields != self._fields:
            self._encode(fields)
            flags, lengths, encoded, unsigned = 0, self._lengths, self._encoded, self._unsigned
        elif self._packed:
            flags, lengths, encoded, unsigned = FLAG_SAME_FIELDS, NO_FIELDS, b"", SAME_UNSIGNED
        else:
            flags, lengths, encoded, unsigned = 0, self._lengths, self._encoded, self._unsigned
        mid = m.id
        if len(mid) != ID_SIZE:
            raise ProtocolError("bad-field", f"message id of {len(mid)} bytes, not {ID_SIZE}")
        if m.error is not None:
            flags |= FLAG_ERROR
        if m.code is not None:
            flags |= FLAG_CODE
        if m.dropped:
            flags |= FLAG_DROPPED
        if m.pickled:
            flags |= FLAG_PICKLED
        try:
            prefix = PREFIX.pack(flags, m.stage, mid)
        except struct.error as exc:
            raise ProtocolError("bad-field", f"cannot encode {m!r}: {exc}") from None
        signature = m.signature
        if not signature:
            return prefix + unsigned
        if len(signature) > MAX_FIELD:
            raise ProtocolError("bad-field", f"the signature is {len(signature)} bytes "
                                f"long; a header field holds {MAX_FIELD} at most")
        return b"".join((prefix, lengths, SIGNATURE_LENGTH.pack(len(signature)), encoded,
                         signature))

    def _encode(self, fields: tuple) -> None:
        try:
            raw = [f.encode() for f in fields[:4]] + [fields[4]]
        except UnicodeEncodeError as exc:
            raise ProtocolError("bad-field", f"text field cannot be UTF-8: {exc}") from None
        for name, data in zip(FIELD_NAMES, raw):
            if len(data) > MAX_FIELD:
                raise ProtocolError("bad-field", f"the {name} is {len(data)} bytes long; a "
                                    f"header field holds {MAX_FIELD} at most")
        self._fields = fields
        self._lengths = FIVE_LENGTHS.pack(*map(len, raw))
        self._encoded = b"".join(raw)
        self._unsigned = self._lengths + NO_SIGNATURE + self._encoded


def decode_fields(frame: bytes, start: int, lp: int, lc: int, lf: int, lk: int,
                  ld: int) -> tuple:
    """(pipeline, client, function, cache, digest) of a header's fields at `start`."""
    end_p = start + lp
    end_c = end_p + lc
    end_f = end_c + lf
    end_k = end_f + lk
    spans = ((start, end_p), (end_p, end_c), (end_c, end_f), (end_f, end_k))
    try:
        pipeline, client, function, cache = (frame[a:b].decode() for a, b in spans)
    except UnicodeDecodeError:  # say which, in the documented order
        for (a, b), name in zip((spans[2], spans[0], spans[1], spans[3]),
                                ("function", "pipeline", "client", "cache")):
            try:
                frame[a:b].decode()
            except UnicodeDecodeError:
                raise ProtocolError("bad-utf8", f"{name} is not UTF-8") from None
        raise
    if pipeline == client:  # a client's own session: one string kept, not two
        pipeline = client
    return pipeline, client, function, cache, frame[end_k:end_k + ld]
