"""Shipped code runs only on a signed invocation, and the signature binds the
message to its steps, id and client: no outsider names a cached digest, no
captured message is aimed at other steps or another server.

CURVE keeps outsiders off a keyed cluster's sockets; the outsider here is let
onto them (its socket has the cluster's CURVE keys), to show the second wall:
what it sends unsigned, or re-aims, still never runs."""
from __future__ import annotations

import pickle

import pytest
import zmq

from greenpylm.clients import Client
from greenpylm.wire import decode, encode
from greenpylm.wire.curve import cluster_keys
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)
KEY = "signed invocations test key"


def write_marker(path):
    with open(path, "w") as marker:
        marker.write("ran")
    return path


def other_marker(path):
    with open(path + ".other", "w") as marker:
        marker.write("ran")
    return path


def start(procs, name):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    proc = Proc(["tests/servers_for_tests.py", "server", name, db, pull, pub],
                env={"GREENPYLM_KEY": KEY})
    procs.append(proc)
    proc.wait_for("started")
    return db


def outsider_call(db: str, frames: list) -> list:
    """What an outsider on the client link gets back for `frames`."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    cluster_keys(KEY).secure(socket, db, bind=False)
    socket.connect(db)
    try:
        socket.send_multipart(frames)
        assert socket.poll(10_000), "no answer at all"
        return decode(socket.recv_multipart())
    finally:
        socket.close()
        context.term()


def test_a_cached_digest_runs_only_for_a_signed_invocation(procs, tmp_path):
    db = start(procs, "s")
    with Client("s", db, key=KEY) as holder:
        first = str(tmp_path / "by the key holder")
        assert holder.eval([("s", write_marker)], first, timeout=10) == first
        call = holder._call([("s", write_marker)], "", None)
        signed = call.message(str(tmp_path / "captured"))  # no code: names the digest
    assert (tmp_path / "by the key holder").exists()  # the server holds the callable now

    victim_file = tmp_path / "by an outsider"
    for payload, pickled in ((str(victim_file).encode(), False),
                             (pickle.dumps(str(victim_file)), True)):
        forged = type(signed)(signed.function, payload, client="outsider", pipeline="outsider")
        forged.pickled = pickled
        [answer] = outsider_call(db, encode([forged]))  # unsigned
        assert answer.error is not None and answer.error.type == "CodeRefused", answer
    # a captured signed message, re-aimed at other steps or at another client
    for change in ({"function": signed.function + " " + signed.function},
                   {"function": "s.echo " + signed.function}, {"client": "outsider"}):
        replayed = type(signed)(change.get("function", signed.function), signed.payload,
                                client=change.get("client", signed.client), id=signed.id,
                                stage=signed.stage, signature=signed.signature,
                                pickled=signed.pickled)
        [answer] = outsider_call(db, encode([replayed]))
        assert answer.error is not None and answer.error.type in ("CodeRefused",), answer
    assert not victim_file.exists() and not (tmp_path / "captured").exists()


def test_a_captured_message_moved_to_another_stage_is_refused(procs, tmp_path):
    db = start(procs, "s")
    steps = [("s", write_marker), ("s", other_marker)]
    with Client("s", db, key=KEY) as holder:
        for step in steps:  # the server holds both callables now
            holder.eval([step], str(tmp_path / "held"), timeout=10)
        signed = holder._call(steps, "", None).message(str(tmp_path / "captured"))
    assert (tmp_path / "held.other").exists()
    moved = type(signed)(signed.function, signed.payload, client=signed.client, id=signed.id,
                         stage=1, signature=signed.signature, pickled=signed.pickled)
    [answer] = outsider_call(db, encode([moved]))  # aimed at the second step's callable
    assert answer.error is not None and answer.error.type == "CodeRefused", answer
    assert not (tmp_path / "captured.other").exists()


def test_a_captured_message_replayed_to_another_server_is_refused(procs, tmp_path):
    first, second = start(procs, "s"), start(procs, "t")
    with Client("s", first, key=KEY) as holder, Client("t", second, key=KEY) as other:
        holder.eval([("s", write_marker)], str(tmp_path / "s ran it"), timeout=10)
        other.eval([("t", write_marker)], str(tmp_path / "t ran it"), timeout=10)
        signed = holder._call([("s", write_marker)], "", None).message(
            str(tmp_path / "replayed"))
    [answer] = outsider_call(second, encode([signed]))  # as captured, to server t
    assert answer.error is not None and answer.error.type == "WrongServer", answer
    aimed = type(signed)(signed.function.replace("s.", "t.", 1), signed.payload,
                         client=signed.client, id=signed.id, signature=signed.signature,
                         pickled=signed.pickled)
    [answer] = outsider_call(second, encode([aimed]))  # its step renamed for server t
    assert answer.error is not None and answer.error.type == "CodeRefused", answer
    assert not (tmp_path / "replayed").exists()
