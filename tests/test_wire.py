"""The wire layer: messages survive encoding, and every malformed batch raises ProtocolError."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenpylm.wire import ErrorRecord, Message, ProtocolError, RemoteError, decode, encode
from greenpylm.wire.frames import (FLAG_ERROR, FLAG_SAME_FIELDS, HEADER, HEADER_SIZE, MAGIC,
                                   PACK_PAYLOAD, TAG_BATCH, TAG_PACKED, TAG_WELCOME, VERSION,
                                   encode_header)

text = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(function=text, payload=st.binary(max_size=200), pipeline=text, client=text, cache=text,
       stage=st.integers(0, 2**32 - 1), digest=st.binary(max_size=32),
       signature=st.binary(max_size=32), code=st.none() | st.binary(max_size=50),
       error=st.none() | st.builds(ErrorRecord, text, text, text), dropped=st.booleans(),
       pickled=st.booleans())
def test_any_message_survives_a_round_trip(function, payload, pipeline, client, cache, stage,
                                           digest, signature, code, error, dropped, pickled):
    m = Message(function, payload, pipeline=pipeline, client=client, cache=cache, stage=stage,
                digest=digest, signature=signature, code=code, error=error, dropped=dropped,
                pickled=pickled)
    assert decode(encode([m])) == [m]
    assert decode(encode([m, m], pack=True)) == [m, m]  # packed when it may be


same_length = st.sampled_from(["aaaa", "aaab", "baaa", ""])  # equal lengths, other bytes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(lambda f, p, c, k, d, s: Message(f, b"x", pipeline=p, client=c,
                                                            cache=k, digest=d, signature=s),
                          same_length, same_length, same_length, same_length,
                          st.sampled_from([b"", b"d1", b"d2"]),
                          st.sampled_from([b"", b"s1", b"s2"])), min_size=1, max_size=8))
def test_every_message_of_a_batch_keeps_its_own_fields(messages):
    """A decoder reads the text fields once per run of equal ones: a neighbour
    with other fields of the same lengths, or with a signature, reads its own."""
    assert decode(encode(messages)) == messages
    assert decode(encode(messages, pack=True)) == messages


def test_a_batch_keeps_order_and_payload_frames_are_untouched():
    payloads = [b"a", b"", b"x" * 100_000, bytes(range(256))]
    messages = [Message("s.f", p, client="c") for p in payloads]
    frames = encode(messages)
    assert frames[0] == TAG_BATCH
    # the payloads are passed to zmq as they are: the very same objects
    assert all(any(f is p for f in frames) for p in payloads)
    assert [m.payload for m in decode(frames)] == payloads


def test_small_messages_pack_into_one_frame_and_come_back_equal():
    messages = [Message("s.f", b"p%d" % i, client="c", pipeline="p", cache="k", stage=3,
                        digest=b"d" * 32, signature=b"s" * 32, pickled=i % 2 == 0,
                        dropped=i == 3) for i in range(5)]
    frames = encode(messages, pack=True)
    assert frames[0] == TAG_PACKED and len(frames) == 2
    assert decode(frames) == messages
    assert encode(messages) != frames and decode(encode(messages)) == messages


@pytest.mark.parametrize("odd", [
    Message("s.f", b"x" * (PACK_PAYLOAD + 1)),                   # a payload too big to copy
    Message("s.f", b"x", error=ErrorRecord("E", "boom")),        # an error frame
    Message("s.f", b"x", code=b"bundle"),                        # a code frame
])
def test_a_batch_with_a_big_payload_an_error_or_code_is_not_packed(odd):
    frames = encode([Message("s.f", b"small"), odd], pack=True)
    assert frames[0] == TAG_BATCH
    assert decode(frames)[1] == odd


def test_one_message_alone_is_not_packed():
    assert encode([Message("s.f", b"x")], pack=True)[0] == TAG_BATCH


def packed_frame() -> bytes:
    return encode([Message("s.f", b"one"), Message("s.f", b"two")], pack=True)[1]


def same_fields_carrying_fields() -> bytes:
    """A packed frame whose second message says it has the first's fields, and has some."""
    first, second = (encode_header(Message("s.f", p)) + b"\x00\x00\x00\x01" + p
                     for p in (b"1", b"2"))
    return first + bytes([FLAG_SAME_FIELDS]) + second[1:]


def test_a_packed_batch_carries_the_shared_fields_once_per_run():
    """In a packed batch, a message with the fields of the one before it leaves them out."""
    same = [Message("s.function", b"p%d" % i, client="c" * 36, pipeline="p" * 36)
            for i in range(4)]
    other = Message("t.other", b"q", client="c" * 36, pipeline="p" * 36)
    messages = same[:2] + [other] + same[2:]
    frame = encode(messages, pack=True)[1]
    full = sum(len(encode_header(m)) for m in (same[0], other, same[2]))  # where runs start
    payloads = sum(4 + len(m.payload) for m in messages)
    assert len(frame) == full + 2 * HEADER_SIZE + payloads
    assert decode([TAG_PACKED, frame]) == messages


@pytest.mark.parametrize("frames, kind", [
    ([TAG_PACKED], "bad-packed"),
    ([TAG_PACKED, packed_frame(), b"stray"], "bad-packed"),
    ([TAG_PACKED, b""], "truncated"),
    ([TAG_PACKED, packed_frame()[:-1]], "bad-packed"),            # the last payload cut
    ([TAG_PACKED, packed_frame()[:HEADER_SIZE]], "truncated"),
    ([TAG_PACKED, packed_frame() + b"\x00" * 3], "truncated"),   # garbage after the last
    ([TAG_PACKED, bytes([FLAG_ERROR]) + packed_frame()[1:]], "bad-header"),
    ([TAG_PACKED, bytes([FLAG_SAME_FIELDS]) + packed_frame()[1:]], "bad-header"),  # the first
    ([TAG_PACKED, same_fields_carrying_fields()], "bad-header"),
    ([TAG_BATCH, bytes([FLAG_SAME_FIELDS]) + encode_header(Message("s.f", b""))[1:], b""],
     "bad-header"),  # only a packed batch may leave fields out
])
def test_malformed_packed_batches_raise_protocol_error(frames, kind):
    with pytest.raises(ProtocolError) as info:
        decode(frames)
    assert info.value.kind == kind


def test_ids_are_unique_and_sixteen_bytes():
    ids = {Message().id for _ in range(10_000)}
    assert len(ids) == 10_000 and {len(i) for i in ids} == {16}


def good_frames():
    return encode([Message("s.f", b"payload", client="c", error=ErrorRecord("E", "boom"))])


def corrupt_header(frames, mutate):
    frames = list(frames)
    frames[1] = mutate(bytearray(frames[1]))
    return [bytes(f) for f in frames]


@pytest.mark.parametrize("frames, kind", [
    ([], "empty"),
    ([b"nonsense"], "bad-tag"),
    ([b"GPLX\x01B", b"h", b"p"], "bad-tag"),
    ([b"GPLM\x01B", b"h", b"p"], "bad-version"),
    ([MAGIC + bytes((VERSION + 1, ord("B"))), b"h", b"p"], "bad-version"),
    ([MAGIC + bytes((VERSION, ord("Z"))), b"h", b"p"], "bad-kind"),
    ([TAG_WELCOME], "bad-kind"),
    ([TAG_BATCH], "truncated"),
    ([TAG_BATCH, encode_header(Message("s.f"))], "truncated"),
    ([TAG_BATCH, b"short", b"p"], "bad-header"),
    (good_frames()[:3], "truncated"),  # the error flag promises a frame that is missing
])
def test_malformed_batches_raise_protocol_error(frames, kind):
    with pytest.raises(ProtocolError) as info:
        decode(frames)
    assert info.value.kind == kind


def test_header_lengths_must_add_up():
    def grow(h):
        return h + b"x"
    with pytest.raises(ProtocolError, match="bad-header"):
        decode(corrupt_header(good_frames(), grow))


def test_unknown_flags_are_refused():
    def flag(h):
        h[0] |= 0x80
        return h
    with pytest.raises(ProtocolError, match="unknown flags"):
        decode(corrupt_header(good_frames(), flag))


def test_text_fields_must_be_utf8():
    m = Message("s.f", b"p", client="cc")
    frames = encode([m])
    header = bytearray(frames[1])
    at = HEADER.size  # the client field follows the (empty) pipeline field
    header[at:at + 2] = b"\xff\xfe"
    with pytest.raises(ProtocolError) as info:
        decode([frames[0], bytes(header), frames[2]])
    assert info.value.kind == "bad-utf8"


def test_error_frame_must_be_a_json_record():
    frames = good_frames()
    for garbage in (b"not json", b"[]", b'{"type": 1, "message": "x"}', b'{"message": "x"}'):
        with pytest.raises(ProtocolError) as info:
            decode(frames[:3] + [garbage])
        assert info.value.kind == "bad-error-frame"


def test_oversized_payload_is_refused():
    frames = encode([Message("s.f", b"x" * 1001)])
    with pytest.raises(ProtocolError) as info:
        decode(frames, max_frame=1000)
    assert info.value.kind == "oversized"
    assert decode(frames, max_frame=1001)[0].payload == b"x" * 1001


def test_encoding_refuses_what_the_wire_cannot_carry():
    with pytest.raises(TypeError):
        encode([Message("s.f", 42)])
    with pytest.raises(ProtocolError):
        encode([Message("s.f", b"", cache="k" * 70_000)])
    with pytest.raises(ProtocolError):
        encode([Message("s.f", b"", stage=-1)])
    with pytest.raises(ValueError):
        encode([])


def test_error_record_becomes_remote_error():
    try:
        raise KeyError("missing")
    except KeyError as exc:
        record = ErrorRecord.from_exception(exc)
    error = record.to_exception()
    assert isinstance(error, RemoteError)
    assert error.remote_type == "KeyError" and "missing" in error.remote_message
    assert "raise KeyError" in error.remote_traceback and "Remote traceback" in str(error)
    assert ErrorRecord.from_bytes(record.to_bytes()) == record


def test_fixed_header_layout_is_stable():
    # docs/protocol.md documents this layout; changing it needs a new version
    assert HEADER.format == ">BI16s6H" and HEADER.size == 33
    m = Message("s.f", b"", stage=7, id=bytes(range(16)), client="c")
    flags, stage, mid, *lengths = struct.unpack_from(">BI16s6H", encode_header(m))
    assert (flags, stage, mid, lengths) == (0, 7, bytes(range(16)), [0, 1, 3, 0, 0, 0])
    assert FLAG_ERROR == 1


def test_the_api_reference_is_up_to_date():
    """docs/api.md is made from the docstrings: regenerate it with docs/make_api.py."""
    import importlib.util

    from helpers import ROOT
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    make_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_api)
    assert (ROOT / "docs" / "api.md").read_text() == make_api.render()
    assert "(no docstring)" not in make_api.render()


def test_the_public_fallback_of_the_transport_speaks_the_same_frames():
    """transport's fast path leans on pyzmq internals; the fallback it would use
    on a pyzmq without them is checked here, against the fast path."""
    import zmq.green as zmq

    from greenpylm.wire import transport

    assert transport.FAST_PATH  # this pyzmq still has the internals
    context = zmq.Context.instance()
    address = f"inproc://fallback-{id(context)}"
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    pull.bind(address)
    push.connect(address)
    frames = encode([Message("s.f", b"x" * 100_000, client="c")])
    for send, recv in [(transport.fast_send_frames, transport.public_recv_frames),
                       (transport.public_send_frames, transport.fast_recv_frames)]:
        send(push, frames)
        assert [bytes(f) for f in recv(pull)] == [bytes(f) for f in frames]
    pull.close(0)
    push.close(0)
