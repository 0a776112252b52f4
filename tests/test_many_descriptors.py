"""A process with thousands of open descriptors (a web app with many connections)
runs clients, a master, workers and an HTTP gateway: nothing waits with select()."""
from __future__ import annotations

import json
import signal

import pytest

from helpers import free_port, python_code, tcp
from test_gateway import post

pytestmark = pytest.mark.timeout(120)

BUSY_PROCESS = """
import json, os, signal, sys
import gevent, gevent.event, zmq.green
from greenpylm.clients import Client
from greenpylm.parts.gateways import HttpGateway
from greenpylm.servers import Master, Server, Worker

held = [os.open(os.devnull, os.O_RDONLY) for _ in range(2000)]  # every socket below: fd > 2000
pull, pub, wpull, wpush, db, server_db, port = sys.argv[1:]

class Doubler(Worker):
    def double(self, payload):
        return payload * 2

class Echo(Server):
    def echo(self, payload):
        return payload

def descriptors():
    return len(os.listdir("/proc/self/fd"))

zmq.green.Context.instance().socket(zmq.green.PAIR).close()  # the context's own threads, pipes
gevent.sleep(0.1)
before = descriptors()
master = Master("m", pull, pub, wpull, wpush, db)
master.register_bypass(HttpGateway, "Gateway", f"http://127.0.0.1:{port}", timeout=20)
server = Echo("s", server_db, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
worker = Doubler("w", db)
running = [master.spawn(), server.spawn(), gevent.spawn(worker.start)]
with Client("s", server_db) as client:
    evals = sum(client.eval("s.echo", b"%d" % i, timeout=10) == b"%d" % i for i in range(300))
with Client("m", db) as client:
    results = sorted(client.job("m.double", [b"%d" % i for i in range(2000)], timeout=30))
    job_fd = client._replies.FD
print(json.dumps({"evals": evals, "job": results == sorted(b"%d" % i * 2 for i in range(2000)),
                  "fd": job_fd}), flush=True)
done = gevent.event.Event()
gevent.signal_handler(signal.SIGUSR1, done.set)
print("gateway ready", flush=True)
done.wait()
worker.stop(); server.stop(); master.stop()
gevent.joinall(running, timeout=10)
print(json.dumps({"left_open": descriptors() - before}), flush=True)
"""


def test_two_thousand_open_descriptors_change_nothing(procs):
    addresses = [tcp(free_port()) for _ in range(6)]
    port = free_port()
    busy = python_code(BUSY_PROCESS, *addresses, str(port))
    procs.append(busy)
    busy.wait_for("gateway ready", timeout=90)
    figures = json.loads(next(line for line in busy.lines if line.startswith('{"evals"')))
    assert figures["fd"] > 2000  # the client waited on a descriptor select() cannot take
    assert (figures["evals"], figures["job"]) == (300, True)
    url = f"http://127.0.0.1:{port}"
    for i in range(50):
        status, _, body = post(f"{url}/double", b"%d" % i, timeout=20)
        assert (status, body) == (200, b"%d" % i * 2)
    busy.popen.send_signal(signal.SIGUSR1)
    left = json.loads(busy.wait_for('{"left_open"', timeout=30))
    assert left["left_open"] <= 0, busy.output()  # stop() closed every socket it opened
