"""A client or worker pointed where no greenpylm server answers gives up after
its connection timeout, saying what it waited for, and logs while it waits."""
from __future__ import annotations

import socket
import time

import pytest

from greenpylm import CallTimeout
from greenpylm.cache_client import CONNECT_TIMEOUT
from greenpylm.servers import Worker
from helpers import free_port, python_code, tcp

pytestmark = pytest.mark.timeout(120)

CALLER = """
import sys, time
from greenpylm import CallTimeout
from greenpylm.clients import Client
began = time.monotonic()
try:
    Client("s", sys.argv[1]).eval("s.foo", b"x")  # no timeout given: the default bounds it
except CallTimeout as exc:
    print(f"gave up after {time.monotonic() - began:.1f} s: {exc}", flush=True)
"""


@pytest.fixture
def squatter():
    """A port held by a program that accepts connections and says nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield tcp(listener.getsockname()[1])
    listener.close()


def test_a_client_gives_up_after_the_default_timeout_saying_what_it_waited_for(procs,
                                                                               squatter):
    caller = python_code(CALLER, squatter)
    procs.append(caller)
    waiting = caller.wait_for("no answer yet from the cache service of 's'", timeout=15)
    assert squatter in waiting
    line = caller.wait_for("gave up after", timeout=CONNECT_TIMEOUT + 30)
    elapsed = float(line.split("gave up after ")[1].split(" s:")[0])
    assert CONNECT_TIMEOUT - 1 <= elapsed <= CONNECT_TIMEOUT + 5, line
    assert f"no answer from the cache service at {squatter}" in line
    assert "is 's' up, and is that its db address?" in line
    assert sum("no answer yet" in line for line in caller.lines) == 1  # once, not per look


def test_a_worker_gives_up_when_its_master_does_not_answer(squatter):
    worker = Worker("w", squatter, connect_timeout=1.5)
    began = time.monotonic()
    with pytest.raises(CallTimeout, match=f"cache service at {squatter} to get 'name'"):
        worker.spawn()
    assert time.monotonic() - began < 5
    worker.stop()


def test_a_loop_client_gives_up_when_no_chain_server_accepts_it(squatter):
    from greenpylm.chained.clients import LoopClient

    client = LoopClient(tcp(free_port()), squatter, connect_timeout=1.5)
    began = time.monotonic()
    try:
        with pytest.raises(CallTimeout, match=f"no server accepted a connection at {squatter}"):
            client.eval("foo", b"x")
        assert time.monotonic() - began < 5
    finally:
        client.close()


WAITING_WORKER = """
import sys
from greenpylm.servers import Worker
Worker("w", sys.argv[1]).start()
print("start returned", flush=True)
"""


def test_a_worker_stopped_while_it_waits_for_its_master_exits_cleanly(procs, squatter):
    import signal
    worker = python_code(WAITING_WORKER, squatter)
    procs.append(worker)
    worker.wait_for("no answer yet from the cache service", timeout=15)
    worker.popen.send_signal(signal.SIGTERM)
    worker.wait_for("start returned", timeout=10)
    assert worker.popen.wait(10) == 0
    text = "\n".join(worker.lines)
    assert "stopped while starting" in text and "Traceback" not in text, text
