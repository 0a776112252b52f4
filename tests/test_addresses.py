"""Wildcard binds are advertised as addresses other hosts reach, and a wildcard
host given to a client or worker means this host."""
from __future__ import annotations

import socket

import gevent
import pytest

from greenpylm.clients import Client
from greenpylm.servers import Master, Worker
from greenpylm.wire.links import advertised, primary_address, reachable
from helpers import free_port

pytestmark = pytest.mark.timeout(60)


class Upper(Worker):
    def up(self, payload: bytes) -> bytes:
        return payload.upper()


def addresses_of(server) -> dict:
    return {k: v.decode() for k, v in server.cache.items() if k.endswith("_address")}


@pytest.mark.parametrize("wildcard", ["*", "0.0.0.0"])
def test_a_master_bound_to_a_wildcard_serves_workers_and_clients_told_the_same(wildcard):
    db = f"tcp://{wildcard}:{free_port()}"
    master = Master("m", f"tcp://{wildcard}:*", f"tcp://{wildcard}:*", f"tcp://{wildcard}:*",
                    f"tcp://{wildcard}:*", db, insecure=True)
    master.spawn()
    worker = Upper("w", db)  # what a pylm user writes on the same host
    running = gevent.spawn(worker.start)
    try:
        host = primary_address()
        for key, address in addresses_of(master).items():
            assert address.startswith(f"tcp://{host}:") and not address.endswith(":*"), key
        with Client("m", db) as client:
            assert client.eval("m.up", b"hi", timeout=10) == b"HI"
            assert client.replies_from == addresses_of(master)["client_address"]
    finally:
        worker.stop()
        running.join(10)
        master.stop()


def test_an_explicit_advertised_host_wins(monkeypatch):
    monkeypatch.setenv("GREENPYLM_ADVERTISE", "from-the-environment.example")
    master = Master("m", "tcp://*:*", "tcp://*:*", "tcp://*:*", "tcp://*:*", "tcp://*:*",
                    insecure=True, advertise="pod-7.cluster.local")
    master.spawn()
    try:
        assert all(a.startswith("tcp://pod-7.cluster.local:")
                   for a in addresses_of(master).values())
    finally:
        master.stop()
    assert advertised("tcp://0.0.0.0:5555") == "tcp://from-the-environment.example:5555"
    assert advertised("tcp://[::]:5555", "fd00::7") == "tcp://[fd00::7]:5555"
    assert advertised("tcp://127.0.0.1:5555") == "tcp://127.0.0.1:5555"  # not a wildcard
    assert reachable("tcp://*:5555") == "tcp://127.0.0.1:5555"
    assert reachable("tcp://[::]:5555") == "tcp://[::1]:5555"


def test_the_primary_address_is_one_this_host_has():
    host = primary_address()
    with socket.socket() as probe:
        probe.bind((host, 0))  # only an address of this host can be bound
