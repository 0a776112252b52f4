"""Fuzzing every bound socket of a `Server` running in its own process.

The barrage sends at least `PER_SOCKET` malformed or odd multipart messages
to each socket a `Server` binds: completely random frames, valid batches cut
short, wrong magic and wrong version tags, headers whose lengths do not add
up, unknown flag bits, invalid UTF-8, garbage in the error frame, payloads
bigger than the server's maximum frame, and batches that decode fine but name
an unknown server or method. Afterwards the server must still be alive and
answer a fresh client, and must have logged each kind of bad input at most
once.

Everything is drawn from ``random.Random``, seeded with `SEED` (override it
with the environment variable ``GREENPYLM_FUZZ_SEED``), so a failure
reproduces: the failure message names the seed and the last inputs sent.

Synchronisation is on events only: for the PULL socket a probe pushed after
the barrage on the same connection whose reply we wait for on our own SUB;
for the ROUTER (cache service and client link) the reply to a last cache
request on the same DEALER; for the XPUB
the welcome for a last subscription made through the same XSUB.

The tests at the end send single inputs that once stopped a server (found by
this fuzzer), and check that the server still answers afterwards.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import random
import re
import time
import uuid
from collections import Counter, deque
from typing import Any, Callable

import pytest
import zmq

from greenpylm.clients import Client
from greenpylm.wire import ErrorRecord, Message, ProtocolError, decode, encode
from greenpylm.wire import frames as wire_frames
from greenpylm.wire.frames import (DEFAULT_MAX_FRAME, FLAG_CODE, FLAG_DROPPED, FLAG_ERROR, HEADER,
                                   HEADER_SIZE, KIND_BATCH, KIND_WELCOME, KNOWN_FLAGS, MAGIC,
                                   TAG_BATCH, TAG_PACKED, TAG_WELCOME, VERSION)
from greenpylm.parts.endpoints import MAX_TOPIC
from helpers import Proc, free_port, python_code, tcp

SEED = int(os.environ.get("GREENPYLM_FUZZ_SEED", "20240229"))
PER_SOCKET = 10_000              # fuzz messages to each bound socket (probes come on top)
PROBE_RATE = 0.01                # share of iterations that also send a checked, decodable probe
OVERSIZE = DEFAULT_MAX_FRAME + (1 << 20)   # 65 MiB: past zmq's limit on the server's sockets
SEND_TIMEOUT_MS = 10_000         # a send blocked this long means the server stopped reading
# Seconds to wait for the barrage to be consumed. Usually well under one; but the
# server's Pub part sometimes misses the wake-up for a subscription and only sees
# it when pyzmq's green sockets poll again, 11.6 s later (see the fuzz report).
SYNC_TIMEOUT = 30.0
NAME = "fuzzed"
MAX_STAGE = 0xFFFFFFFF
DEEP = 100_000                   # JSON nesting far beyond Python's recursion limit

# The kinds of bad input the barrage must make the server log (each at most once).
# (No bad-envelope: on a server's ROUTER, what is not a cache request is a client's call.)
EXPECTED_KINDS = {"bad-tag", "bad-version", "bad-kind", "truncated", "bad-header", "bad-utf8",
                  "bad-error-frame", "oversized", "bad-subscription"}

# A pickled payload (signed, unpickled only after the signature is checked) where the
# protocol has it; the fuzzer sets the flag with signatures it makes up.
FLAG_PICKLED = getattr(wire_frames, "FLAG_PICKLED", 0)
CAN_PICKLE = FLAG_PICKLED and "pickled" in Message.__slots__
UNKNOWN_BITS = [1 << b for b in range(8) if not KNOWN_FLAGS & (1 << b)]

# If a server ever unpickled one of these, the call would succeed instead of being refused.
HARMLESS_PICKLE = pickle.dumps(b"UNPICKLED")

BAD_INPUT_LINE = re.compile(r"bad input on (\S+) \(([A-Za-z0-9_-]+)[:)]")

ALPHABET = "abcxyz0129._- /:ñé€\u00a0😀\x00\t"
BAD_UTF8 = (b"\xff", b"\xfe\xff", b"\x80", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80",
            b"\xf8\x88\x80\x80\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"ok\xe9ok")


def pull_probe_table(name: str) -> list[tuple[str, int, tuple]]:
    """(function, stage, expected outcome) of calls that decode but go wrong (or not)."""
    return [
        ("nosuch.foo", 0, ("error", "WrongServer")),
        (f"{name}x.foo", 0, ("error", "WrongServer")),
        ("", 0, ("error", "WrongServer")),
        (f"{name}.foo {name}.foo", 5, ("error", "WrongServer")),   # stage past the last step
        (f"{name}.nosuch", 0, ("error", "UnknownMethod")),
        (f"{name}.", 0, ("error", "UnknownMethod")),
        (f"{name}._private", 0, ("error", "UnknownMethod")),
        (f"{name}.__init__", 0, ("error", "UnknownMethod")),
        (f"{name}.stop", 0, ("error", "UnknownMethod")),             # must not stop the server
        (f"{name}.start", 0, ("error", "UnknownMethod")),
        (f"{name}.execute", 0, ("error", "UnknownMethod")),
        (f"{name}.log", 0, ("error", "UnknownMethod")),              # an attribute, not a method
        (f"{name}.cache", 0, ("error", "UnknownMethod")),
        (f"{name}.ñ€😀", 0, ("error", "UnknownMethod")),
        (f"{name}.@", 0, ("error", None)),                           # shipped code, no digest
        (f"{name}.@zz", 0, ("error", None)),                         # not a digest
        (f"{name}.@{'ab' * 32}", 0, ("error", None)),                # code it does not hold
        (f"{name}.fail", 0, ("error", "ValueError")),
        (f"{name}.number", 0, ("error", "TypeError")),
        (f"{name}.drop", 0, ("dropped",)),
        (f"{name}.echo", 0, ("payload", None)),
        (f"{name}.foo", 0, ("payload", b"you sent me ")),
        (f"x.y {name}.foo", 1, ("payload", b"you sent me ")),
    ]


def router_probe_table(name: str, rng: random.Random) -> list[tuple[str, str, tuple]]:
    """(function, cache key, expected outcome) of cache requests that decode."""
    n = rng.getrandbits(32)
    return [
        (f"{name}.get", "name", ("payload", name.encode())),
        (f"{name}.frobnicate", f"fuzz-{n}", ("error", "ValueError")),
        (name, "", ("error", "ValueError")),
        ("", "", ("error", "ValueError")),
        (f"{name}.get ", "name", ("error", "ValueError")),
        (f"{name}.set", "", ("error", "ValueError")),
        (f"{name}.get", f"fuzz-missing-{n}", ("error", "KeyError")),
        (f"{name}.delete", f"fuzz-missing-{n}", ("error", "KeyError")),
        (f"{name}.set", f"fuzz-key-{n}", ("payload", f"fuzz-key-{n}".encode())),
    ]


def sealed_probe(rng: random.Random, name: str, client: str) -> Message:
    """A call carrying code or a pickle under a made-up (or no) signature: refused."""
    m = Message(f"{name}.foo", rng.randbytes(rng.randint(0, 40)), client=client,
                signature=rng.choice([b"", rng.randbytes(32)]))
    if CAN_PICKLE and rng.random() < 0.5:
        m.pickled = True
        m.payload = rng.choice([HARMLESS_PICKLE, m.payload])
    else:
        m.code = rng.randbytes(rng.randint(1, 200))
        m.digest = hashlib.sha256(m.code).digest() if rng.random() < 0.7 else rng.randbytes(32)
    return m


class Fuzzer:
    """Draws odd multipart messages from one seeded generator."""

    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng = rng
        self.name = name
        self.functions = [f for f, _, _ in pull_probe_table(name)] + [
            f"{name}.get", f"{name}.set", f"{name}.delete", "other.get"]
        self.categories: list[tuple[Callable[[], list], int]] = [
            (self.random_frames, 14), (self.tag_then_random, 8), (self.truncated, 16),
            (self.bad_tag, 8), (self.bad_version, 8), (self.bad_kind, 4), (self.bad_lengths, 10),
            (self.unknown_flags, 6), (self.bad_utf8, 8), (self.bad_error_json, 8),
            (self.mixed_batch, 4), (self.unknown_call, 4), (self.shipped, 4),
            (self.empty_frames, 2), (self.packed, 10),
        ]
        self._methods = [c for c, _ in self.categories]
        self._weights = [w for _, w in self.categories]

    # -- building blocks ----------------------------------------------------
    def size(self) -> int:
        r = self.rng.random()
        if r < 0.1:
            return 0
        if r < 0.6:
            return self.rng.randint(1, 16)
        if r < 0.95:
            return self.rng.randint(17, 300)
        return self.rng.randint(301, 5000)

    def blob(self, size: int | None = None) -> bytes:
        return self.rng.randbytes(self.size() if size is None else size)

    def text(self, longest: int = 24) -> str:
        return "".join(self.rng.choice(ALPHABET) for _ in range(self.rng.randint(0, longest)))

    def stage(self) -> int:
        return self.rng.choice([0, 0, 0, 1, 2, 255, 0xFFFF, MAX_STAGE - 1, MAX_STAGE,
                                self.rng.randint(0, MAX_STAGE)])

    def function(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(self.functions)
        if r < 0.75:
            return f"{self.name}.{self.text(12)}"
        return self.text()

    def cache_key(self) -> str:
        # never one of the preset keys: a fuzzed `set` must not break the final client
        return "" if self.rng.random() < 0.5 else "fuzz-" + self.text(12)

    def error_record(self) -> ErrorRecord:
        traceback = self.text() if self.rng.random() < 0.3 else ""
        return ErrorRecord(self.text(12), self.text(), traceback)

    def message(self, **fixed: Any) -> Message:
        rng = self.rng
        fields = dict(
            function=self.function(), payload=self.blob(), pipeline=self.text(), client=self.text(),
            stage=self.stage(), cache=self.cache_key(), digest=self.blob(rng.randint(0, 20)),
            signature=self.blob(rng.randint(0, 20)),
            error=self.error_record() if rng.random() < 0.2 else None,
            code=self.blob() if rng.random() < 0.1 else None,
            dropped=rng.random() < 0.05)
        if CAN_PICKLE:
            fields["pickled"] = rng.random() < 0.05
        if fields["code"] is not None and rng.random() < 0.5:
            fields["digest"] = hashlib.sha256(fields["code"]).digest()   # the digest checks out
        fields.update(fixed)
        function = fields.pop("function")
        payload = fields.pop("payload")
        return Message(function, payload, **fields)

    def messages(self) -> list[Message]:
        return [self.message() for _ in range(self.rng.randint(1, 4))]

    @staticmethod
    def header_positions(messages: list[Message]) -> list[int]:
        """Index of each message's header frame in ``encode(messages)``."""
        positions, i = [], 1
        for m in messages:
            positions.append(i)
            i += 2 + (m.error is not None) + (m.code is not None)
        return positions

    def raw_fields(self) -> list[bytes]:
        return [self.text().encode(), self.text().encode(), self.function().encode(),
                self.cache_key().encode(), self.blob(self.rng.randint(0, 20)),
                self.blob(self.rng.randint(0, 20))]

    def quiet_flags(self) -> int:
        """Known flags that announce no extra frame (dropped, pickled)."""
        return self.rng.choice([0, 0, 0, FLAG_DROPPED, FLAG_PICKLED, FLAG_DROPPED | FLAG_PICKLED])

    def header(self, flags: int = 0, fields: list[bytes] | None = None,
               lengths: list[int] | None = None) -> bytes:
        fields = self.raw_fields() if fields is None else fields
        lengths = [len(f) for f in fields] if lengths is None else lengths
        return HEADER.pack(flags, self.stage(), self.rng.randbytes(16), *lengths) + b"".join(fields)

    # -- categories: each returns the frames of one multipart message ---------
    def random_frames(self) -> list:
        return [self.blob() for _ in range(self.rng.randint(1, 8))]

    def tag_then_random(self) -> list:
        return [TAG_BATCH] + [self.blob(self.rng.choice([self.size(), HEADER_SIZE,
                                                          HEADER_SIZE + self.rng.randint(1, 40)]))
                              for _ in range(self.rng.randint(0, 7))]

    def truncated(self) -> list:
        rng = self.rng
        messages = self.messages()
        frames = encode(messages)
        how = rng.randrange(6)
        if how == 0:      # only the tag
            return frames[:1]
        if how == 1:      # the last frame is missing: a header without payload, error or code
            return frames[:-1] if len(frames) > 2 else frames[:1]
        if how == 2:      # cut anywhere (may leave a shorter batch that is still valid)
            return frames[:rng.randrange(1, len(frames))]
        if how == 3:      # one frame missing in the middle: everything after is shifted
            del frames[rng.randrange(1, len(frames))]
            return frames
        if how == 4:      # bytes cut off a header
            i = rng.choice(self.header_positions(messages))
            frames[i] = frames[i][:rng.randrange(len(frames[i]))]
            return frames
        frames[0] = frames[0][:rng.randrange(len(frames[0]))]   # bytes cut off the tag
        return frames

    def packed(self) -> list:
        """A packed batch, cut, grown, flipped or followed by a stray frame."""
        rng = self.rng
        frames = encode([Message(f"{self.name}.foo", self.blob(rng.randint(0, 64)),
                                 client=rng.choice(["", "fuzz"]))
                         for _ in range(rng.randint(2, 6))], pack=True)
        assert frames[0] == TAG_PACKED
        body = bytearray(frames[1])
        how = rng.randrange(5)
        if how == 0:      # cut anywhere
            body = body[:rng.randrange(len(body))]
        elif how == 1:    # a byte flipped (a length, a flag, a text field)
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        elif how == 2:    # garbage after the last message
            body += self.blob(rng.randint(1, 40))
        elif how == 3:    # a stray frame after the packed one
            return [TAG_PACKED, bytes(body), self.blob()]
        else:             # the error or code flag set on a packed message
            body[0] |= rng.choice([FLAG_ERROR, FLAG_CODE])
        return [TAG_PACKED, bytes(body)]

    def bad_tag(self) -> list:
        rng = self.rng
        magic = rng.randbytes(4)
        while magic == MAGIC:
            magic = rng.randbytes(4)
        tag = rng.choice([
            magic + bytes((VERSION, KIND_BATCH)), b"gplm\x01B", b"GPLN\x01B", b"MLPG\x01B",
            MAGIC, MAGIC + bytes((VERSION,)), TAG_BATCH + b"\x00", TAG_BATCH * 2, b"",
            b"\x00" * 6, rng.randbytes(rng.randint(0, 12)),
        ])
        if tag[:4] == MAGIC and len(tag) == 6:
            tag = tag + b"!"
        return [tag] + encode(self.messages())[1:]

    def bad_version(self) -> list:
        rng = self.rng
        version = rng.choice([v for v in (0, 1, 3, 0x7F, 0x80, 0xFF, rng.randint(0, 255))
                              if v != VERSION] or [0])
        kind = rng.choice([KIND_BATCH, KIND_BATCH, KIND_WELCOME, rng.randint(0, 255)])
        return [MAGIC + bytes((version, kind))] + encode(self.messages())[1:]

    def bad_kind(self) -> list:
        rng = self.rng
        kind = rng.choice([k for k in range(256) if k not in (KIND_BATCH, KIND_WELCOME)])
        tag = rng.choice([MAGIC + bytes((VERSION, kind)), TAG_WELCOME])
        return [tag] + encode(self.messages())[1:]

    def bad_lengths(self) -> list:
        rng = self.rng
        fields = self.raw_fields()
        lengths = [len(f) for f in fields]
        how = rng.randrange(5)
        if how == 0:      # one declared length is wrong
            i = rng.randrange(6)
            lengths[i] = rng.choice([v for v in (lengths[i] + 1, lengths[i] - 1, 0, 0xFFFF,
                                                 rng.randint(0, 0xFFFF)) if 0 <= v <= 0xFFFF
                                     and v != lengths[i]])
            header = self.header(flags=self.quiet_flags(), fields=fields, lengths=lengths)
        elif how == 1:    # every length at its maximum
            header = self.header(fields=fields, lengths=[0xFFFF] * 6)
        elif how == 2:    # trailing bytes after the declared fields
            header = self.header(fields=fields) + self.blob(rng.randint(1, 40))
        elif how == 3:    # the declared fields run past the end of the frame
            header = self.header(fields=fields)
            header = header[:rng.randrange(len(header))]
        else:             # shorter than the fixed part
            header = self.blob(rng.randint(0, HEADER_SIZE - 1))
        return [TAG_BATCH, header, self.blob()]

    def unknown_flags(self) -> list:
        rng = self.rng
        if not UNKNOWN_BITS:          # every bit of the flags byte means something now
            return self.bad_lengths()
        flags = rng.randint(0, 255) | rng.choice(UNKNOWN_BITS)
        frames = [TAG_BATCH, self.header(flags=flags), self.blob()]
        if flags & FLAG_ERROR:
            frames.append(self.error_record().to_bytes())
        if flags & FLAG_CODE:
            frames.append(self.blob())
        return frames

    def bad_utf8(self) -> list:
        rng = self.rng
        fields = self.raw_fields()
        i = rng.randrange(4)          # pipeline, client, function or cache
        fields[i] = fields[i][:rng.randint(0, len(fields[i]))] + rng.choice(BAD_UTF8) + \
            fields[i][:rng.randint(0, 3)]
        return [TAG_BATCH, self.header(flags=self.quiet_flags(), fields=fields), self.blob()]

    def garbage_json(self) -> bytes:
        rng = self.rng
        depth = rng.randint(1, 200)
        good = ErrorRecord("T", "m").to_bytes()
        return rng.choice([
            self.blob(), b"", b"{", b"}", b"null", b"true", b"[]", b"{}", b'"type"', b"123",
            b"-0.5e999", b"NaN", b"Infinity", b"9" * 5000, b'{"type": 1, "message": "m"}',
            b'{"type": "T"}', b'{"message": "m"}', b'{"type": "T", "message": null}',
            b'{"type": "T", "message": "m", "traceback": []}', b'["T", "m", ""]',
            b"\xff" + good, good[:rng.randrange(len(good))], good.replace(b'"', b"'"),
            b"[" * depth + b"]" * depth, b"[" * depth, b'{"a":' * depth + b"1" + b"}" * depth,
            b"[" * DEEP, b'{"a":' * DEEP,          # deeper than Python's recursion limit
            rng.choice(BAD_UTF8) + good[1:],
        ])

    def bad_error_json(self) -> list:
        rng = self.rng
        flags = FLAG_ERROR | (FLAG_CODE if rng.random() < 0.2 else 0) | \
            (FLAG_DROPPED if rng.random() < 0.1 else 0)
        frames = [TAG_BATCH, self.header(flags=flags), self.blob(), self.garbage_json()]
        if flags & FLAG_CODE:
            frames.append(self.blob())
        return frames

    def mixed_batch(self) -> list:
        """Good messages with one broken message among them: the whole batch is rejected."""
        rng = self.rng
        broken = rng.choice([self.bad_lengths, self.unknown_flags, self.bad_utf8,
                             self.bad_error_json])()[1:]
        before = encode(self.messages())[1:]
        after = encode(self.messages())[1:] if rng.random() < 0.5 else []
        return [TAG_BATCH] + before + broken + after

    def unknown_call(self) -> list:
        """Batches that decode fine but name an unknown server or method."""
        table = pull_probe_table(self.name)
        return encode([self.message(function=self.rng.choice(table)[0]) for _ in
                       range(self.rng.randint(1, 3))])

    def shipped(self) -> list:
        """Batches that decode, carrying code, a pickle or a shipped-code name,
        never validly signed: nothing may be run or unpickled."""
        rng = self.rng
        out = []
        for _ in range(rng.randint(1, 3)):
            code = rng.choice([None, self.blob(), b"\x80\x04K\x01.", rng.randbytes(64)])
            payload = rng.choice([self.blob(), HARMLESS_PICKLE, b"\x80\x04K\x01."])
            digest = hashlib.sha256(code).digest() if code and rng.random() < 0.7 \
                else self.blob(rng.choice([0, 32, 7]))
            function = rng.choice([f"{self.name}.foo", f"{self.name}.@{digest.hex()}",
                                   f"{self.name}.@{self.blob(32).hex()}", self.function()])
            flags = self.quiet_flags() | (FLAG_CODE if code is not None else 0)
            fields = [self.text().encode(), self.text().encode(), function.encode(),
                      self.cache_key().encode(), digest,
                      rng.choice([b"", self.blob(32), self.blob()])]
            out += [self.header(flags=flags, fields=fields), payload] + \
                ([code] if code is not None else [])
        return [TAG_BATCH] + out

    def empty_frames(self) -> list:
        return self.rng.choice([[b""], [b"", b""], [TAG_BATCH, b"", b""], [TAG_BATCH, b""],
                                [TAG_BATCH, b"", b"", b""]])

    def draw(self) -> tuple[str, list]:
        method = self.rng.choices(self._methods, self._weights)[0]
        return method.__name__, method()

    # -- socket-specific wrappers ------------------------------------------
    def for_router(self) -> tuple[str, list]:
        """A request for the ROUTER: mostly ``[b'', batch...]``, sometimes a bad envelope."""
        category, frames = self.draw()
        r = self.rng.random()
        if r < 0.86:
            return category, [b""] + frames
        if r < 0.93:
            return "no-delimiter", frames
        if r < 0.98:
            return "bad-delimiter", [self.rng.randbytes(self.rng.randint(1, 8))] + frames
        return "only-delimiter", [b""]

    def for_xpub(self, subscribed: list[bytes]) -> tuple[str, list]:
        """What an XSUB sends upstream: subscriptions, cancels, and anything else."""
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return self.draw()
        if r < 0.55:
            topic = self.blob(rng.randint(1, 40)) if rng.random() < 0.97 else b""
            subscribed.append(topic)
            return "subscribe", [b"\x01" + topic]
        if r < 0.65:
            topic = rng.choice(subscribed) if subscribed and rng.random() < 0.7 else self.blob()
            return "unsubscribe", [b"\x00" + topic]
        if r < 0.85:
            parts = [rng.choice([b"\x01", b"\x00", b""]) + self.blob(rng.randint(0, 20))
                     for _ in range(rng.randint(2, 5))]
            return "mixed-subscription", parts
        frame = rng.choice([b"", bytes((rng.randint(2, 255),)) + self.blob()])
        return "not-a-subscription", [frame]


# -- helpers -------------------------------------------------------------------
def describe(frames: list) -> str:
    shown = [repr(bytes(f[:48])) + (f"...({len(f)} bytes)" if len(f) > 48 else "")
             for f in frames[:6]]
    return "[" + ", ".join(shown) + (", ..." if len(frames) > 6 else "") + "]"


def make_socket(context: zmq.Context, kind: int, address: str) -> zmq.Socket:
    sock = context.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    sock.setsockopt(zmq.RCVHWM, 0)     # we read everything; the server must never drop our replies
    sock.connect(address)
    return sock


def readable(sock: zmq.Socket) -> bool:
    return bool(sock.getsockopt(zmq.EVENTS) & zmq.POLLIN)


class Barrage:
    """The sockets, the bookkeeping and the failure report of one fuzz run."""

    def __init__(self, proc: Proc, name: str) -> None:
        self.proc = proc
        self.name = name
        self.recent: deque = deque(maxlen=12)
        self.sent: Counter = Counter()          # per socket: fuzz messages sent
        self.categories: dict[str, Counter] = {"pull": Counter(), "router": Counter(),
                                               "xpub": Counter()}

    def fail(self, why: str) -> None:
        recent = "\n".join(f"  {s} #{i} {c}: {f}" for s, i, c, f in self.recent)
        output = "\n".join(self.proc.lines[-60:])
        raise AssertionError(f"{why}\nseed {SEED} (GREENPYLM_FUZZ_SEED); last inputs sent:\n"
                             f"{recent}\nserver output so far (see also below):\n{output}")

    def send(self, sock: zmq.Socket, where: str, index: int, category: str,
             frames: list) -> None:
        self.recent.append((where, index, category, describe(frames)))
        try:
            # copy=True even for the 65 MiB frames: zero-copy sends start pyzmq's
            # garbage-collector thread, which would outlive this test
            sock.send_multipart(frames, copy=True)
        except zmq.Again:
            self.fail(f"sending to the {where} socket blocked for {SEND_TIMEOUT_MS} ms: "
                      "the server stopped reading it")

    def check_alive(self) -> None:
        if not self.proc.alive():
            try:
                self.proc.drain(5)
            finally:
                self.fail(f"the server process exited with {self.proc.popen.returncode}")

    def wait(self, sockets: dict, done: Callable[[], bool], what: str | Callable[[], str],
             timeout: float) -> None:
        """Poll `sockets` ({socket: handler}) until `done()`, failing fast if the server dies."""
        poller = zmq.Poller()
        for sock in sockets:
            poller.register(sock, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while not done():
            self.check_alive()
            if time.monotonic() > deadline:
                self.fail(f"timed out after {timeout}s waiting for "
                          f"{what() if callable(what) else what}")
            for sock, _ in poller.poll(100):
                while readable(sock):
                    sockets[sock](sock.recv_multipart(zmq.NOBLOCK))


@pytest.mark.timeout(120)
def test_fuzzing_every_bound_socket_leaves_the_server_up(procs):
    started = time.monotonic()
    name = NAME
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    proc = Proc(["tests/servers_for_tests.py", "server", name, db, pull, pub])
    procs.append(proc)
    proc.wait_for("started")
    barrage = Barrage(proc, name)

    fuzz = {where: Fuzzer(random.Random(f"{SEED}-{where}"), name)
            for where in ("pull", "router", "xpub")}
    probe_rng = random.Random(f"{SEED}-probes")
    context = zmq.Context()
    push = make_socket(context, zmq.PUSH, pull)
    dealer = make_socket(context, zmq.DEALER, db)
    xsub = make_socket(context, zmq.XSUB, pub)
    sub = make_socket(context, zmq.SUB, pub)
    sockets = (push, dealer, xsub, sub)
    try:
        # Our own subscription, on which the replies to our PULL probes arrive.
        topic = f"fuzz-probe-{uuid.uuid4().hex}"
        sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        welcomed = []
        barrage.wait({sub: lambda f: welcomed.append(f[:2] == [topic.encode(), TAG_WELCOME])},
                     lambda: any(welcomed), "the welcome on our SUB", 10)

        # -- what comes back ------------------------------------------------
        pull_probes: dict[bytes, tuple] = {}       # id -> (function, stage, expected, payload)
        pull_answered: list[bytes] = []
        router_probes: dict[bytes, tuple] = {}     # id -> (function, key, expected)
        router = Counter()                         # requests, replies, malformed, ...
        xsub_seen = Counter()
        problems: list[str] = []

        def on_sub(frames: list) -> None:
            if frames[:2] == [topic.encode(), TAG_WELCOME]:
                return
            try:
                replies = decode(frames[1:])
            except ProtocolError as exc:
                problems.append(f"a result published to us does not decode: {exc}")
                return
            for reply in replies:
                probe = pull_probes.pop(reply.id, None)
                if probe is None:
                    problems.append(f"unexpected result {reply!r}")
                    continue
                pull_answered.append(reply.id)
                function, stage, expected, payload = probe
                problem = outcome_problem(reply, expected, payload)
                if problem:
                    problems.append(f"PULL probe {function!r}: {problem}")

        def on_dealer(frames: list) -> None:
            if frames[:1] != [b""]:  # the client link's: a welcome, or answers to a call
                router["lane replies"] += 1
                if frames[0] == TAG_WELCOME:
                    return
                try:
                    decode(frames)
                except ProtocolError as exc:
                    if exc.kind != "bad-version":  # a refusal in the sender's own version
                        problems.append(f"a lane reply does not decode ({exc}): "
                                        f"{describe(frames)}")
                return
            router["replies"] += 1
            try:
                replies = decode(frames[1:])
            except ProtocolError as exc:
                if exc.kind == "bad-version":  # a refusal in the sender's own version
                    router["refusals in the sender's version"] += 1
                else:
                    problems.append(f"a cache reply does not decode ({exc}): {describe(frames)}")
                return
            for reply in replies:
                probe = router_probes.pop(reply.id, None)
                if probe is not None:
                    function, key, expected = probe
                    problem = outcome_problem(reply, expected, None)
                    if problem:
                        problems.append(f"cache probe {function!r} {key!r}: {problem}")
                elif reply.error is not None and reply.error.type == "ProtocolError":
                    router["error replies to malformed requests"] += 1
                else:
                    router["other replies"] += 1

        def on_xsub(frames: list) -> None:
            xsub_seen["welcomes" if len(frames) == 3 and frames[1] == TAG_WELCOME
                      else "results"] += 1

        handlers = {sub: on_sub, dealer: on_dealer, xsub: on_xsub}

        def drain() -> None:
            for sock, handler in handlers.items():
                while readable(sock):
                    handler(sock.recv_multipart(zmq.NOBLOCK))

        # -- the barrage ----------------------------------------------------
        pull_table = pull_probe_table(name)
        big = b"\x07" * (DEFAULT_MAX_FRAME + 1)  # over the server's limit, within zmq's
        oversized_at = {
            ("router", PER_SOCKET // 4): "payload", ("router", PER_SOCKET // 2): "code",
            ("router", 3 * PER_SOCKET // 4): "payload", ("pull", PER_SOCKET // 3): "payload",
            ("xpub", 2 * PER_SOCKET // 3): "frame",
        }
        subscribed: list[bytes] = []

        def oversized(where: str, what: str) -> list:
            if what == "frame":
                return [big]
            m = fuzz[where].message(error=None, code=None, dropped=False)
            if what == "code":
                m.code = big
            else:
                m.payload = big
            return encode([m])

        def send_alone(kind: int, address: str, where: str, i: int, frames: list) -> None:
            """A frame past zmq's limit, from a connection of its own: zmq refuses
            it on arrival (MAXMSGSIZE) and drops that connection, with what it carried."""
            once = make_socket(context, kind, address)
            once.setsockopt(zmq.LINGER, 5000)  # let the whole frame leave before close
            barrage.send(once, where, i, "oversized", frames)
            once.close()

        for i in range(PER_SOCKET):
            # PULL
            if i == PER_SOCKET // 5:  # past zmq's limit: the sender is disconnected
                for kind, address, where in ((zmq.PUSH, pull, "pull"),
                                             (zmq.DEALER, db, "router"), (zmq.XSUB, pub, "xpub")):
                    send_alone(kind, address, where, i, [b"\x07" * OVERSIZE])
            if ("pull", i) in oversized_at:
                category, frames = "oversized", oversized("pull", oversized_at["pull", i])
            else:
                category, frames = fuzz["pull"].draw()
            barrage.categories["pull"][category] += 1
            barrage.send(push, "pull", i, category, frames)
            barrage.sent["pull"] += 1
            if probe_rng.random() < PROBE_RATE:
                if probe_rng.random() < 0.2:
                    m = sealed_probe(probe_rng, name, topic)
                    pull_probes[m.id] = ("sealed " + m.function, 0, ("error", None), b"")
                else:
                    function, stage, expected = probe_rng.choice(pull_table)
                    payload = probe_rng.randbytes(probe_rng.randint(0, 40))
                    m = Message(function, payload, client=topic, stage=stage,
                                pipeline=f"fuzz-{i}")
                    pull_probes[m.id] = (function, stage, expected, payload)
                barrage.send(push, "pull", i, "probe", encode([m]))

            # ROUTER (cache service)
            if ("router", i) in oversized_at:
                category, frames = "oversized", [b""] + oversized("router",
                                                                  oversized_at["router", i])
            else:
                category, frames = fuzz["router"].for_router()
            barrage.categories["router"][category] += 1
            barrage.send(dealer, "router", i, category, frames)
            barrage.sent["router"] += 1
            # a REQ envelope is a cache request; anything else is a call on the client link
            router["requests" if len(frames) > 1 and frames[0] == b"" else "lane requests"] += 1
            if probe_rng.random() < PROBE_RATE:
                batch = []
                for _ in range(probe_rng.randint(1, 3)):
                    function, key, expected = probe_rng.choice(router_probe_table(name, probe_rng))
                    m = Message(function, b"value", client=topic, cache=key)
                    router_probes[m.id] = (function, key, expected)
                    batch.append(m)
                barrage.send(dealer, "router", i, "probe", [b""] + encode(batch))
                router["requests"] += 1

            # XPUB (through an XSUB, which passes on anything upstream)
            if ("xpub", i) in oversized_at:  # past the publisher's zmq limit (its topics')
                send_alone(zmq.XSUB, pub, "xpub", i, oversized("xpub", oversized_at["xpub", i]))
                barrage.categories["xpub"]["oversized"] += 1
            category, frames = fuzz["xpub"].for_xpub(subscribed)
            # within the publisher's zmq limit: a longer frame drops the connection
            frames = [f[:MAX_TOPIC + 1] for f in frames]
            barrage.categories["xpub"][category] += 1
            barrage.send(xsub, "xpub", i, category, frames)
            barrage.sent["xpub"] += 1

            drain()
            if i % 500 == 0:
                barrage.check_alive()
        del big
        barrage_seconds = time.monotonic() - started

        # -- proof that every socket consumed its barrage ---------------------
        # PULL: PUSH is FIFO per connection, so when this last message is answered
        # the server has read (and decoded) everything pushed before it.
        last = Message(f"{name}.foo", b"sync", client=topic, pipeline="fuzz-sync")
        pull_probes[last.id] = (last.function, 0, ("payload", b"you sent me "), b"sync")
        barrage.send(push, "pull", PER_SOCKET, "sync", encode([last]))
        # ROUTER: the reply to this request comes after the replies to all earlier ones.
        request = Message(f"{name}.get", b"", client=topic, cache="name")
        router_probes[request.id] = (request.function, "name", ("payload", name.encode()))
        barrage.send(dealer, "router", PER_SOCKET, "sync", [b""] + encode([request]))
        router["requests"] += 1
        # XPUB: the welcome for a fresh topic comes after the server has read every
        # earlier event of this XSUB. A plain frame first closes any multipart message
        # that the XSUB left open (it swallows cancels of topics it never subscribed).
        barrage.send(xsub, "xpub", PER_SOCKET, "close", [b"\x02end of barrage"])
        sync_topic = f"fuzz-sync-{uuid.uuid4().hex}".encode()
        barrage.send(xsub, "xpub", PER_SOCKET, "sync", [b"\x01" + sync_topic])
        xpub_synced = []

        def on_xsub_sync(frames: list) -> None:
            if frames[:2] == [sync_topic, TAG_WELCOME]:
                xpub_synced.append(True)
            on_xsub(frames)

        handlers[xsub] = on_xsub_sync
        synced_at: dict[str, float] = {}   # seconds after the barrage

        def consumed() -> bool:
            # Every probe answered, the last one included. (Replies may come out of
            # order: the server runs up to `concurrency` calls at once.)
            for where, done in (("pull", not pull_probes), ("router", not router_probes),
                                ("xpub", bool(xpub_synced))):
                if done:
                    synced_at.setdefault(where, round(time.monotonic() - started
                                                      - barrage_seconds, 2))
            return len(synced_at) == 3

        barrage.wait(handlers, consumed, lambda: (
            f"the server to consume the barrage: {len(pull_probes)} PULL probes unanswered "
            f"(the last one: {last.id in pull_probes}), {len(router_probes)} cache probes "
            f"unanswered (the last one: {request.id in router_probes}), welcome for the last "
            f"subscription: {bool(xpub_synced)}; cache counts {dict(router)}"), SYNC_TIMEOUT)
        drain()

        # -- what the barrage must have left behind ---------------------------
        for where in ("pull", "router", "xpub"):
            assert barrage.sent[where] >= PER_SOCKET, (where, barrage.sent[where])
        assert not problems, "\n".join(problems[:20])
        # REP style: one reply per request, malformed ones included (never silence)
        assert router["replies"] == router["requests"], router
        assert last.id in pull_answered and not pull_probes and not router_probes
        assert router["error replies to malformed requests"] >= 1, router
        assert router["lane requests"] and router["lane replies"], router
        assert xsub_seen["welcomes"] >= 1, xsub_seen
        barrage.check_alive()

        with Client(name, db) as client:
            assert client.eval(f"{name}.foo", b"ok", timeout=10) == b"you sent me ok"
        assert proc.alive()

        # Each kind of bad input was logged, once (wait for the lines, then read all).
        for kind in sorted(EXPECTED_KINDS):
            proc.wait_for(f"({kind}:", timeout=10)
        assert proc.alive()
    finally:
        for sock in sockets:
            sock.close(linger=0)
        context.term()

    proc.stop()
    output = proc.drain()
    kinds = Counter(match.group(2) for match in BAD_INPUT_LINE.finditer(output))
    assert EXPECTED_KINDS <= set(kinds), (sorted(kinds), output[-3000:])
    assert all(n == 1 for n in kinds.values()), kinds
    assert "a part failed" not in output and "CRITICAL" not in output, output[-3000:]
    # The only error the server may report is the one user method meant to fail:
    # anything else is an internal error it survived but swallowed.
    errors = [line for line in output.splitlines() if "| ERROR" in line]
    assert all("fail" in line and "ValueError" in line for line in errors), "\n".join(errors)
    print(f"\nfuzz seed {SEED}: sent {dict(barrage.sent)} fuzz messages; barrage "
          f"{barrage_seconds:.1f}s, then consumed after {synced_at}s; total "
          f"{time.monotonic() - started:.1f}s; kinds logged: {dict(kinds)}; cache: {dict(router)}; "
          f"xsub: {dict(xsub_seen)}; categories: "
          + "; ".join(f"{w}: {dict(c)}" for w, c in barrage.categories.items()))


def outcome_problem(reply: Message, expected: tuple, payload: bytes | None) -> str:
    """What is wrong with `reply` given the expected outcome, or ''."""
    if expected[0] == "error":
        if reply.error is None:
            return f"expected a {expected[1] or 'any'} error, got {reply!r}"
        if expected[1] is not None and reply.error.type != expected[1]:
            return f"expected a {expected[1]} error, got {reply.error.type}: {reply.error.message}"
        return ""
    if reply.error is not None:
        return f"unexpected error {reply.error.type}: {reply.error.message}"
    if expected[0] == "dropped":
        return "" if reply.dropped else f"expected a drop, got {reply!r}"
    want = expected[1]
    if payload is not None:
        want = (want or b"") + payload
    return "" if reply.payload == want else f"payload {reply.payload!r}, expected {want!r}"


# -- single inputs that stopped a server (found by this fuzzer) ----------------
PIPELINED_SERVER = """
import sys
sys.path.insert(0, "tests")
from servers_for_tests import EchoServer
name, db, pull, pub = sys.argv[1:5]
EchoServer(name, db, pull, pub, pipelined=True).start()
"""


def send_then_probe(procs: list, *, pull_frames: list | None = None,
                    cache_frames: list | None = None, pipelined: bool = False) -> None:
    """Start a server, send it one input, then prove that it still answers.

    A call pushed after the input on the same PUSH (or a cache request sent
    after it on the same DEALER) must be answered: both are FIFO, so the
    answer comes after the server has handled the input.
    """
    name = "fuzzbug"
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    if pipelined:
        proc = python_code(PIPELINED_SERVER, name, db, pull, pub)
    else:
        proc = Proc(["tests/servers_for_tests.py", "server", name, db, pull, pub])
    procs.append(proc)
    proc.wait_for("started")
    barrage = Barrage(proc, name)
    context = zmq.Context()
    push = make_socket(context, zmq.PUSH, pull)
    dealer = make_socket(context, zmq.DEALER, db)
    sub = make_socket(context, zmq.SUB, pub)
    try:
        # a pipelined server publishes under its own name, a plain one to the client
        client = f"fuzz-probe-{uuid.uuid4().hex}"
        topic = (name if pipelined else client).encode()
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        got: list = []
        barrage.wait({sub: got.append}, lambda: [topic, TAG_WELCOME] in [f[:2] for f in got], "the welcome", 10)

        def answered(frames: list, skip: int, mid: bytes) -> bool:
            return frames[skip:skip + 1] in ([TAG_BATCH], [TAG_PACKED]) and any(
                m.id == mid for m in decode(frames[skip:]))

        if pull_frames is not None:
            barrage.send(push, "pull", 0, "input", pull_frames)
            probe = Message(f"{name}.foo", b"x", client=client)
            barrage.send(push, "pull", 1, "probe", encode([probe]))
            barrage.wait({sub: got.append}, lambda: any(answered(f, 1, probe.id) for f in got),
                         "the reply to a call pushed after the input", 10)
        if cache_frames is not None:
            barrage.send(dealer, "router", 0, "input", cache_frames)
            request = Message(f"{name}.get", b"", cache="name")
            barrage.send(dealer, "router", 1, "probe", [b""] + encode([request]))
            barrage.wait({dealer: got.append}, lambda: any(answered(f, 1, request.id) for f in got),
                         "the reply to a cache request sent after the input", 10)
        barrage.check_alive()
    finally:
        for sock in (push, dealer, sub):
            sock.close(linger=0)
        context.term()


def nested_error_frame() -> list:
    frames = encode([Message("fuzzbug.foo", b"x", error=ErrorRecord("T", "m"))])
    frames[3] = b"[" * DEEP      # the error frame: JSON nested deeper than the recursion limit
    return frames


# ErrorRecord.from_bytes once let json.loads' RecursionError escape decode(): the
# part's greenlet died and the server stopped itself ("a part failed").
@pytest.mark.timeout(60)
def test_deeply_nested_json_in_an_error_frame_on_the_pull_socket(procs):
    send_then_probe(procs, pull_frames=nested_error_frame())


@pytest.mark.timeout(60)
def test_deeply_nested_json_in_an_error_frame_on_the_router_socket(procs):
    send_then_probe(procs, cache_frames=[b""] + nested_error_frame())


# Server.execute once added one to the stage of every call: at stage 0xFFFFFFFF the
# result could not be encoded and the Pub greenlet died, stopping the server.
@pytest.mark.timeout(60)
def test_a_call_at_the_last_stage(procs):
    send_then_probe(procs, pull_frames=encode([Message("fuzzbug.foo", b"x", stage=MAX_STAGE)]))


# A pipelined server adds one to the stage of each result: at stage 0xFFFFFFFF the
# Pub part could not encode it, nor the error reply that replaced it (it kept the
# stage), and the Pub greenlet died, stopping the server.
@pytest.mark.timeout(60)
def test_a_call_at_the_last_stage_on_a_pipelined_server(procs):
    send_then_probe(procs, pull_frames=encode([Message("fuzzbug.foo", b"x", stage=MAX_STAGE)]),
                    pipelined=True)
