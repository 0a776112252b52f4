"""One secret secures the cluster: CURVE on every tcp link, members only,
and no listening beyond this host without a key."""
from __future__ import annotations

import contextlib
import json
from typing import Iterator

import pytest
import zmq

from greenpylm.clients import Client
from greenpylm.servers import Server
from greenpylm.wire import encode, Message
from greenpylm.wire import worker_link as link
from greenpylm.wire.curve import AuthenticationFailed, ClusterKeys, InsecureBind
from helpers import Proc, free_port, tcp
from test_chained import KEY as CHAIN_ENV, chain, run_client

pytestmark = pytest.mark.timeout(90)
KEY = "the cluster's one secret"
ENV = {"GREENPYLM_KEY": KEY}


def strangers(context, address: str, key: str) -> list:
    """Sockets of every kind that could talk to `address`, connected: plain, CURVE
    with another cluster's keys, and CURVE that knows the server key of the cluster
    of `key` (leaked: it is a public key) but has a key pair of its own."""
    other = ClusterKeys.derive(b"another cluster")
    ours = ClusterKeys.derive(key.encode())
    leaked = ClusterKeys(ours.server_public, b"", other.member_public, other.member_secret)
    out = []
    for kind in (zmq.DEALER, zmq.SUB, zmq.PUSH, zmq.PULL):
        for keys in (None, other, leaked):
            socket = context.socket(kind)
            socket.setsockopt(zmq.LINGER, 0)
            if keys is not None:
                keys.secure(socket, address, bind=False)
            socket.connect(address)
            if kind == zmq.SUB:
                socket.setsockopt(zmq.SUBSCRIBE, b"")
            out.append(socket)
    return out


def send_everything(sockets: list, name: str) -> None:
    call = encode([Message(f"{name}.foo", b"stranger-was-here", client="x", pipeline="x")])
    for socket in sockets:
        kind = socket.type
        for frames in ([b""], [b""] + call, call,
                       link.hello(2 ** 31, "stranger", b"stranger-id")):
            if kind in (zmq.DEALER, zmq.PUSH):
                try:
                    socket.send_multipart(frames, zmq.NOBLOCK)
                except zmq.Again:
                    pass  # nothing connected: nothing to send to


@contextlib.contextmanager
def strangers_on(addresses, name: str, key: str = KEY) -> Iterator[list]:
    """Strangers on every one of `addresses`, having sent all they could to `name`."""
    context = zmq.Context()
    sockets = [s for address in addresses for s in strangers(context, address, key)]
    try:
        send_everything(sockets, name)
        yield sockets
    finally:
        for socket in sockets:
            socket.close(0)
        context.term()


def nothing_received(sockets: list) -> bool:
    return not any(socket.poll(0) for socket in sockets)


def start_master(procs) -> tuple[Proc, tuple]:
    """A keyed master in a process of its own, and its five addresses."""
    addresses = tuple(tcp(free_port()) for _ in range(5))
    db, pull, pub, wpull, wpush = addresses
    master = Proc(["tests/servers_for_tests.py", "master", "m", db, pull, pub, wpull, wpush],
                  env=ENV)
    procs.append(master)
    master.wait_for("started")
    return master, addresses


def test_strangers_on_every_address_of_a_master_get_nothing_through(procs):
    master, (db, pull, pub, wpull, wpush) = start_master(procs)
    procs.append(Proc(["tests/servers_for_tests.py", "worker", "w", db], env=ENV))
    master.wait_for("worker w joined")
    with strangers_on((db, pull, pub, wpull, wpush), "m") as sockets:
        with Client("m", db, key=KEY) as member:
            results = list(member.job("m.work", [b"%d" % i for i in range(200)], timeout=20))
            assert sorted(results) == sorted(b"%d|w" % i for i in range(200))
            master.wait_for("not a member of this cluster")  # refused by the ZAP handler
            # refused before ZAP, as zmq's monitor tells: another cluster's key, and plain
            # peers (whose side may hang up first: a broken handshake)
            master.wait_for("its key is not this cluster's")
            master.wait_for("refused a peer on", count=2)  # two kinds, a line each
            figures = json.loads(member.cache_client.request("stats", "", timeout=10))
        assert figures["workers_seen"] == ["w"]  # no stranger joined
        assert nothing_received(sockets)
        assert figures["counters"]["refused.other-key"] >= 1
        for why in ("it has no key", "its key is not this cluster's", "broke during"):
            assert sum(why in line for line in master.lines) <= 1  # once per kind
        assert not any("stranger" in line for line in master.lines)


def test_strangers_run_nothing_on_a_server(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/servers_for_tests.py", "recording", "s", db, pull, pub], env=ENV)
    procs.append(server)
    server.wait_for("started")
    with strangers_on((db, pull, pub), "s") as sockets:
        with Client("s", db, key=KEY) as member:
            assert member.eval("s.foo", b"member", timeout=10) == b"you sent me member"
        assert nothing_received(sockets)
        assert not any("stranger-was-here" in line for line in server.lines)


def test_strangers_get_nothing_through_a_chain_of_servers(procs):
    first, back, servers = chain(procs)
    pulls = [proc.wait_for("started").rpartition(" ")[2] for proc in servers]
    with strangers_on([*pulls, back], "step0", CHAIN_ENV["GREENPYLM_KEY"]) as sockets:
        assert run_client(procs, "many", "1000", first, back) == {"count": 1000, "sorted": True}
        assert nothing_received(sockets)
    for server in servers:
        server.wait_for("refused a peer on")
        assert "stranger-was-here" not in server.output()


def test_a_client_or_worker_with_another_key_is_told_so_within_its_timeout(procs):
    master, (db, pull, pub, wpull, wpush) = start_master(procs)
    for key in ("another secret", None):
        client = Client("m", db, key=key) if key else Client("m", db)
        with client, pytest.raises(AuthenticationFailed, match="authentication failed"):
            client.eval("m.work", b"x", timeout=5)
    worker = Proc(["tests/servers_for_tests.py", "worker", "w", db],
                  env={"GREENPYLM_KEY": "another secret"})
    procs.append(worker)
    worker.wait_for("authentication failed", timeout=30)


def test_listening_beyond_this_host_needs_a_key_or_an_explicit_opt_out(monkeypatch):
    monkeypatch.delenv("GREENPYLM_KEY", raising=False)
    monkeypatch.delenv("GREENPYLM_INSECURE", raising=False)
    wide = "tcp://0.0.0.0:*"
    server = Server("wide", wide, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    with pytest.raises(InsecureBind, match="GREENPYLM_KEY.*insecure=True"):
        server.spawn()
    assert not server.running
    for options in ({"insecure": True}, {"key": KEY}):
        server = Server("wide", wide, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*", **options)
        server.spawn()
        try:
            assert server.running
        finally:
            server.stop()
    local = Server("local", "tcp://127.0.0.1:*", "ipc:///tmp/greenpylm-local-test",
                   "inproc://local-pub")
    local.spawn()  # loopback, ipc and inproc need no key
    local.stop()


def test_a_part_started_on_its_own_admits_members_only(monkeypatch):
    import gevent
    import zmq.green as gzmq
    from zmq.utils.monitor import recv_monitor_message

    from greenpylm import MissingKeyError
    from greenpylm.cache_client import CacheClient
    from greenpylm.parts.services import CacheService
    from greenpylm.wire.curve import cluster_keys

    monkeypatch.setenv("GREENPYLM_KEY", KEY)
    address = tcp(free_port())
    part = CacheService("Cache", address)  # pylm's way: a part with a start() of its own
    runner = gevent.spawn(part.start)
    member = CacheClient("alone", address, gzmq.Context.instance(), "member", keys=cluster_keys())
    stranger = gzmq.Context.instance().socket(zmq.DEALER)
    try:
        with pytest.raises(MissingKeyError):  # connected, answered: its cache is empty
            member.request("get", "anything", timeout=10)
        ours, other = ClusterKeys.derive(KEY.encode()), ClusterKeys.derive(b"another cluster")
        ClusterKeys(ours.server_public, b"", other.member_public, other.member_secret).secure(
            stranger, address, bind=False)  # it knows the server's public key, not a member's
        monitor = stranger.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        stranger.connect(address)
        with gevent.Timeout(10):
            assert recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
        stranger.disable_monitor()
        monitor.close(0)
    finally:
        stranger.close(0)
        member.close()
        runner.kill()
