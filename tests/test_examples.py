"""Every example runs end to end, as separate processes, on free loopback ports."""
from __future__ import annotations

import pytest

from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)


def test_single_server_and_client_as_two_processes(procs):
    env = {"SINGLE_DB": tcp(free_port()), "SINGLE_PULL": tcp(free_port()),
           "SINGLE_PUB": tcp(free_port())}
    server = Proc(["examples/single/server.py"], env=env)
    procs.append(server)
    client = Proc(["examples/single/client.py"], env=env)
    procs.append(client)
    assert client.popen.wait(30) == 0
    assert "Client got: b'you sent me a message'" in client.drain()
    server.wait_for("foo was called with b'a message'")
    assert server.alive()


def test_demo_runs():
    demo = Proc(["examples/demo.py"])
    assert demo.popen.wait(30) == 0
    out = demo.drain()
    assert "eval     -> b'HELLO GREENPYLM!'" in out
    assert "20000 results streamed" in out
    assert "ZeroDivisionError - division by zero" in out
    assert "and on   -> b'0.25'" in out
