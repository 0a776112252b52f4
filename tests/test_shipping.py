"""The shipping layer: callables by value, bundles, signatures, the bounded cache."""
from __future__ import annotations

import functools
import hmac
import os
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from greenpylm.shipping import Bundle, CallableCache, CodeRefused, Seal, Shipped, Signer
from greenpylm.wire import Message, ProtocolError, decode, encode

pytestmark = pytest.mark.timeout(30)


def through_the_wire(message: Message) -> Message:
    [copy] = decode(encode([message]))
    return copy


class Adder:
    def __init__(self, n):
        self.n = n

    def __call__(self, x):
        return x + self.n


def defined_here(x):
    return x * 10


def kinds_of_callables():
    k = 5
    return {
        "lambda": (lambda x: x + 1, 2, 3),
        "closure": (lambda x: x * k, 2, 10),
        "module function": (defined_here, 2, 20),
        "partial": (functools.partial(pow, 2), 5, 32),
        "callable instance": (Adder(7), 1, 8),
    }


@pytest.mark.parametrize("kind", list(kinds_of_callables()))
def test_every_kind_of_callable_ships_and_runs(kind):
    function, argument, expected = kinds_of_callables()[kind]
    shipped = Shipped.of(function)
    sender, receiver = Seal("key"), Seal("key")
    message = Message("s." + shipped.reference, argument)
    sender.enclose(message, [shipped])
    sender.sign(message)
    arrived = through_the_wire(message)
    receiver.open(arrived, wanted=shipped.digest)
    assert receiver.callables.get(shipped.digest)(arrived.payload) == expected


def test_payload_objects_arrive_as_the_same_object_and_bytes_untouched():
    seal = Seal("key")
    value = {"a": [1, 2.5, None], "b": (b"x", "y")}
    message = Message("s.f", value)
    seal.sign(message)
    assert message.pickled and message.signature
    arrived = through_the_wire(message)
    seal.open(arrived, wanted=b"")
    assert arrived.payload == value and not arrived.pickled
    raw = Message("s.f", b"\x80\x05raw bytes that look like a pickle")
    seal.sign(raw)
    assert not raw.pickled and raw.signature == b""
    assert through_the_wire(raw).payload == raw.payload


def test_code_signed_with_another_key_or_unsigned_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    evil = Shipped.of(lambda x: x)

    class Boom:  # unpickling this would create the marker file
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for opener, tamper in ((Seal("other key"), None), (Seal("key"), "unsign"),
                           (Seal("key"), "flip")):
        message = Message("s." + evil.reference, Boom())
        sender = Seal("key")
        sender.enclose(message, [evil])
        sender.sign(message)
        arrived = through_the_wire(message)
        if tamper == "unsign":
            arrived.signature = b""
        elif tamper == "flip":  # a signed raw payload passed off as a pickle
            raw = Message("s.f", bytes(arrived.payload))
            sender.sign(raw)
            raw.pickled = True
            arrived = raw
        with pytest.raises(CodeRefused):
            opener.open(arrived, wanted=b"")
        assert not marker.exists()
        assert evil.digest not in opener.callables


def test_the_cache_is_bounded_and_forgets_the_least_recently_used():
    cache = CallableCache(size=2)
    a, b, c = (Shipped.of(lambda x, i=i: x + i) for i in range(3))
    cache.add([a, b])
    assert cache.get(a.digest)(0) == 0  # a is now the most recently used
    cache.add([c])
    assert b.digest not in cache and a.digest in cache and c.digest in cache
    assert cache.evict(a.digest) and cache.get(a.digest) is None


def test_bundles_check_every_digest():
    a, b = Shipped.of(lambda x: 1), Shipped.of(lambda x: 2)
    frame = Bundle.encode([a, b])
    assert Bundle.decode(frame) == [a, b]
    broken = bytearray(frame)
    broken[-1] ^= 0xFF
    with pytest.raises(ProtocolError):
        Bundle.decode(bytes(broken))
    with pytest.raises(ProtocolError):
        Bundle.decode(frame[:-1])


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GREENPYLM_KEY", "from the environment")
    message = Message("s.f", [1])
    Seal().sign(message)
    Seal("from the environment").open(through_the_wire(message), wanted=b"")
    with pytest.raises(CodeRefused):
        Seal("something else").open(through_the_wire(message), wanted=b"")
    assert os.environ["GREENPYLM_KEY"] == "from the environment"


def test_what_cannot_be_shipped_says_so():
    with pytest.raises(TypeError, match="only callables"):
        Shipped.of(42)


@given(key=st.binary(min_size=1, max_size=200), data=st.binary(max_size=2000))
@example(key=b"k" * 64, data=b"a block's worth of key")
@example(key=b"k" * 65, data=b"a key longer than a block is hashed first")
@settings(max_examples=300, deadline=None)
def test_signatures_are_hmac_sha256(key, data):
    """The signer's precomputed states give exactly the standard HMAC-SHA256,
    for keys shorter and longer than SHA-256's block, and check in kind."""
    signer = Signer(key)
    expected = hmac.digest(key, data, "sha256")
    assert signer.sign(data) == expected
    assert signer.verify(data, expected)
    assert not signer.verify(data + b"!", expected)


def documented_signature(key: bytes, message: Message) -> bytes:
    """The signature section 3.7 of docs/protocol.md describes, computed with `hmac`."""
    function, client = message.function.encode(), message.client.encode()
    data = b"".join((struct.pack(">HHH", len(function), len(client), len(message.digest)),
                     function, client, message.digest, b"P" if message.pickled else b"B",
                     message.id, struct.pack(">I", message.stage), message.payload))
    return hmac.digest(key, data, "sha256")


@given(steps=st.lists(st.tuples(st.sampled_from(["s.@ab t.@cd", "s.@ab t.@cd u.f", "ŝ.@é"]),
                                st.sampled_from(["", "client-1", "client-2"]),
                                st.integers(0, 3), st.binary(max_size=40), st.booleans()),
                      min_size=1, max_size=12))
@settings(max_examples=100, deadline=None)
def test_signatures_are_the_documented_hmac_of_each_message(steps):
    """Messages that share function, client and digest share the signed prefix's
    hashing; each still gets the documented signature of its own fields, in
    whatever order they come, and checks on the other side."""
    key = b"the documented key"
    seal, other = Seal(key), Seal(key)
    for function, client, stage, payload, with_code in steps:
        message = Message(function, payload, client=client, stage=stage)
        if with_code:
            seal.enclose(message, [Shipped.of(len)])
        seal.sign(message)
        assert message.signature == documented_signature(key, message)
        other.open(through_the_wire(message), wanted=b"")
