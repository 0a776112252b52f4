"""Sealed batches (docs/protocol.md, 3.9): one signature for a whole packed
batch on the links of a chain, and what a receiver makes of one that does not check."""
from __future__ import annotations

import hashlib
import hmac
import pickle
import random

import pytest

from greenpylm.calls import plan
from greenpylm.chained.client import LoopClient
from greenpylm.shipping import CodeRefused, Seal, Shipped
from greenpylm.shipping.seal import SEALED_BATCH_KEY
from greenpylm.wire import Message, ProtocolError, decode, encode
from greenpylm.wire.frames import TAG_BATCH, TAG_PACKED, TAG_SEALED
from greenpylm.wire.message import VOUCHED
from greenpylm.wire.transport import deadline_after, recv_frames, send_frames, wait_readable
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)
KEY = "the chain's shared secret"


def double(x):
    return 2 * x


STEP = Shipped.of(double)
FUNCTION = f"s.{STEP.reference}"


def vouched(seal: Seal, n: int, function: str = FUNCTION) -> list[Message]:
    """`n` messages with pickled payloads 0..n-1, vouched for by `seal` (a chain's)."""
    messages = [Message(function, i, client="c", stage=0) for i in range(n)]
    for m in messages:
        seal.sign(m, deferred=True)
    return messages


def test_a_packed_batch_goes_sealed_and_opens_with_the_same_key():
    sender, receiver = Seal(KEY), Seal(KEY)
    frames = sender.encode(vouched(sender, 3))
    assert frames[0] == TAG_SEALED and len(frames) == 3
    # the seal: HMAC-SHA256 of the packed frame, with a key derived from the cluster's
    batch_key = hmac.digest(KEY.encode(), SEALED_BATCH_KEY, "sha256")
    assert frames[2] == hmac.digest(batch_key, frames[1], hashlib.sha256)
    messages = decode(frames, seal=receiver)
    assert all(m.signature is VOUCHED for m in messages)
    for m in messages:
        receiver.open(m, wanted=b"")
    assert [m.payload for m in messages] == [0, 1, 2]


@pytest.mark.parametrize("how", ["another key", "no seal", "a changed byte", "a changed seal"])
def test_a_sealed_batch_that_does_not_check_gives_unsigned_messages_that_are_refused(how):
    sender = Seal(KEY)
    frames = sender.encode(vouched(sender, 3))
    receiver = Seal("another key") if how == "another key" else Seal(KEY)
    if how == "a changed byte":
        frames[1] = frames[1][:-1] + bytes((frames[1][-1] ^ 1,))
    if how == "a changed seal":
        frames[2] = bytes(32)
    messages = decode(frames, seal=None if how == "no seal" else receiver)
    assert [m.signature for m in messages] == [b""] * 3
    for m in messages:
        with pytest.raises(CodeRefused, match="not signed"):
            receiver.open(m, wanted=b"")
        assert isinstance(m.payload, bytes)  # nothing was unpickled


def test_a_message_the_sender_does_not_vouch_for_never_goes_sealed():
    """A pickle that came unsigned, or signed by someone else, is passed on as
    it came: a seal would make the receiver take it for checked."""
    seal = Seal(KEY)
    stranger = Message(FUNCTION, pickle.dumps("boom"), client="c", pickled=True)
    forwarded = Message(FUNCTION, pickle.dumps(1), client="c", pickled=True,
                        signature=b"s" * 32)
    for odd in (stranger, forwarded):
        frames = seal.encode([*vouched(seal, 2), odd])
        assert frames[0] == TAG_PACKED
        out = decode(frames, seal=seal)
        assert out[2].signature == odd.signature
        assert all(m.signature not in (b"", VOUCHED) for m in out[:2])  # signed one by one
        for m in out[:2]:
            seal.open(m, wanted=b"")
        with pytest.raises(CodeRefused):
            seal.open(out[2], wanted=b"")


def test_what_does_not_pack_is_signed_one_by_one():
    seal = Seal(KEY)
    first, *rest = vouched(seal, 3)
    seal.enclose(first, [STEP])  # the code goes with the call's first message
    frames = seal.encode([first, *rest])
    assert frames[0] == TAG_BATCH
    for m in decode(frames, seal=seal):
        assert isinstance(m.signature, bytes) and len(m.signature) == 32
        seal.open(m, wanted=STEP.digest)
    big = vouched(seal, 1)[0]
    big.payload = pickle.dumps(b"x" * 10_000)
    assert seal.encode([big])[0] == TAG_BATCH


def test_a_message_that_cannot_be_encoded_leaves_its_neighbours_signed():
    """`Part.encode` then sends them without it: they must not go unsigned."""
    seal = Seal(KEY)
    messages = vouched(seal, 3)
    messages[1].id = b"too short"
    with pytest.raises(ProtocolError):
        seal.encode(messages)
    for m in (messages[0], messages[2]):
        assert isinstance(m.signature, bytes) and len(m.signature) == 32
        seal.open(m, wanted=b"")


def test_plain_and_dropped_messages_need_no_signature_and_go_with_the_others():
    seal = Seal(KEY)
    plain = Message("s.method", b"raw bytes", client="c")
    dropped = Message(FUNCTION, b"", client="c", dropped=True)
    for m in (plain, dropped):
        seal.sign(m, deferred=True)
    frames = seal.encode([plain, dropped, *vouched(seal, 1)])
    assert frames[0] == TAG_SEALED
    assert [m.payload for m in decode(frames, seal=seal)][:2] == [b"raw bytes", b""]
    # with nothing to vouch for, a batch is not worth a seal
    assert seal.encode([plain, dropped])[0] == TAG_PACKED


def test_malformed_sealed_batches_are_refused():
    seal = Seal(KEY)
    frames = seal.encode(vouched(seal, 2))
    for wrong in (frames[:2], frames + [b""]):
        with pytest.raises(ProtocolError) as info:
            decode(wrong, seal=seal)
        assert info.value.kind == "bad-packed"
    # a message of a sealed batch carries no signature of its own
    signed = vouched(seal, 2)
    for m in signed:
        seal.sign(m)
    inner = encode(signed, pack=True)
    assert inner[0] == TAG_PACKED
    with pytest.raises(ProtocolError) as info:
        decode([TAG_SEALED, inner[1], seal.batch_signer.sign(inner[1])], seal=seal)
    assert info.value.kind == "bad-header"


def test_a_sealed_batch_changed_anywhere_is_never_vouched_for():
    """Flip a bit, cut, grow or swap any frame of a sealed batch: `decode`
    either refuses it or gives unsigned messages, never `VOUCHED` ones."""
    rng = random.Random(20261207)
    seal = Seal(KEY)
    refused = unsigned = 0
    for _ in range(600):
        frames = seal.encode(vouched(seal, rng.randint(1, 5)))
        which = rng.randrange(1, 3)
        frame = bytearray(frames[which])
        how = rng.randrange(4)
        if how == 0:
            frame[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        elif how == 1:
            del frame[rng.randrange(len(frame)):]
        elif how == 2:
            frame += rng.randbytes(rng.randint(1, 40))
        else:
            frame = bytearray(seal.encode(vouched(seal, 2))[which])  # another batch's
            if frame == frames[which]:
                continue
        frames[which] = bytes(frame)
        try:
            messages = decode(frames, seal=seal)
        except ProtocolError:
            refused += 1
            continue
        assert all(m.signature == b"" and m.signature is not VOUCHED for m in messages)
        unsigned += 1
    assert refused and unsigned  # both outcomes were met


def test_a_chained_server_checks_and_seals_batches_over_tcp(procs):
    """A `LastServer` process: a sealed batch in, a sealed batch of results
    out; the same batch with one byte changed is answered with refusals."""
    pull, push = tcp(free_port()), tcp(free_port())
    server = Proc(["-m", "greenpylm.chained", "last", "s", "--pull", pull, "--push", push],
                  env={"GREENPYLM_KEY": KEY})
    procs.append(server)
    server.wait_for("started")
    double = lambda x: 2 * x  # noqa: E731 (shipped by value, not by reference)
    with LoopClient(push, pull, key=KEY) as client:
        assert client.eval(double, 21, timeout=20) == 42  # the server holds the code now
        function, _ = plan([("s", double)])

        def answers(frames: list) -> list[list]:
            send_frames(client._push, frames)
            got, deadline = [], deadline_after(20)
            while sum(len(decode(b)) for b in got) < 3 and wait_readable(client._replies,
                                                                          deadline):
                got.append(recv_frames(client._replies))
            return got

        batch = client.seal.encode(vouched(client.seal, 3, function))
        assert batch[0] == TAG_SEALED
        results = answers(batch)
        assert [frames[0] for frames in results] == [TAG_SEALED]
        replies = decode(results[0], seal=client.seal)
        for m in replies:
            client.seal.open(m, wanted=b"")
        assert sorted(m.payload for m in replies) == [0, 2, 4]

        batch = client.seal.encode(vouched(client.seal, 3, function))
        batch[1] = batch[1][:-1] + bytes((batch[1][-1] ^ 1,))
        refused = [m for frames in answers(batch) for m in decode(frames, seal=client.seal)]
        assert [m.error.type for m in refused] == ["CodeRefused"] * 3
        assert client.eval(double, 5, timeout=20) == 10  # and the server goes on
