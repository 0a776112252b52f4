"""HTTP workers: HttpService serves a MethodRunner's methods, HttpConnection
hands a master's work to them (pylm's HttpConnection idea)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from greenpylm.servers import HttpWorker
from helpers import free_port, python_code, tcp

pytestmark = pytest.mark.timeout(90)


WORKER = """
import sys
from greenpylm.servers import HttpWorker
name, address = sys.argv[1:]

class Work(HttpWorker):
    def work(self, payload):
        return payload + b"|" + self.name.encode()

    def fail(self, payload):
        raise ValueError("failed on " + payload.decode())

    def drop(self, payload):
        return None

Work(name, address, serves="server").start()
"""

MASTER = """
import sys
from greenpylm.parts.http import HttpConnection
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import CacheService, PubService, PullService
db, pull, pub, urls = sys.argv[1:]
server = ServerTemplate()
server.register_inbound(PullService, "Pull", pull, route="HttpWorkers")
server.register_outbound(HttpConnection, "HttpWorkers", urls, route="Pub", concurrency=20)
server.register_outbound(PubService, "Pub", pub)
server.register_bypass(CacheService, "Cache", db)
server.preset_cache(name="server", db_address=db, pull_address=pull, pub_address=pub)
server.start()
"""


def post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


@pytest.fixture(scope="module")
def cluster():
    """Two HTTP worker processes and a master process that hands them work."""
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    procs = []
    try:
        for name, url in zip(("w1", "w2"), urls):
            procs.append(python_code(WORKER, name, url))
        for proc in procs:
            proc.wait_for("serving HTTP")
        master = python_code(MASTER, db, pull, pub, " ".join(urls))
        procs.append(master)
        master.wait_for("started:")
        yield db, urls
    finally:
        for proc in procs:
            proc.stop()


def test_worker_speaks_plain_http(cluster):
    _, urls = cluster
    head = {"X-Greenpylm-Function": "server.work", "X-Greenpylm-Stage": "0"}
    assert post(urls[0], b"abc", head) == (200, b"abc|w1")
    # the stage picks the step of a pipeline
    assert post(urls[1], b"abc", {"X-Greenpylm-Function": "other.x server.work",
                                  "X-Greenpylm-Stage": "1"}) == (200, b"abc|w2")
    assert post(urls[0], b"abc", {"X-Greenpylm-Function": "server.drop"}) == (204, b"")
    status, body = post(urls[0], b"abc", {"X-Greenpylm-Function": "server.nope"})
    assert status == 404 and json.loads(body)["type"] == "UnknownMethod"
    status, body = post(urls[0], b"abc", {"X-Greenpylm-Function": "server.fail"})
    record = json.loads(body)
    assert status == 500 and record["type"] == "ValueError"
    assert "failed on abc" in record["message"] and "Traceback" in record["traceback"]
    status, body = post(urls[0], b"abc", {})
    assert status == 400 and json.loads(body)["type"] == "BadRequest"


def test_job_through_http_workers(cluster):
    from greenpylm.clients import Client
    db, _ = cluster
    client = Client("server", db)
    try:
        payloads = [b"m%d" % i for i in range(200)]
        results = list(client.job("server.work", iter(payloads), messages=200, timeout=60))
    finally:
        client.close()
    assert len(results) == 200
    inputs = sorted(r.rpartition(b"|")[0] for r in results)
    assert inputs == sorted(payloads)
    workers = {r.rpartition(b"|")[2] for r in results}
    assert workers == {b"w1", b"w2"}


def test_errors_and_drops_reach_the_client(cluster):
    from greenpylm import RemoteError
    from greenpylm.clients import Client
    db, _ = cluster
    client = Client("server", db)
    try:
        with pytest.raises(RemoteError) as info:
            client.eval("server.fail", b"x", timeout=30)
        assert info.value.remote_type == "ValueError"
        assert "failed on x" in info.value.remote_message
        with pytest.raises(RemoteError) as info:
            client.eval("server.nope", b"x", timeout=30)
        assert info.value.remote_type == "UnknownMethod"
        assert client.eval("server.drop", b"x", timeout=30) is None
        assert client.eval("server.work", b"after", timeout=30).startswith(b"after|w")
    finally:
        client.close()


def test_connection_skips_a_dead_worker_in_process(running):
    """One URL refuses connections: every message goes to the live worker."""
    from greenpylm.clients import Client
    from greenpylm.parts.http import HttpConnection
    from greenpylm.parts.servers import ServerTemplate
    from greenpylm.parts.services import CacheService, PubService, PullService

    class Echo(HttpWorker):
        def work(self, payload):
            return payload + b"|live"

    worker = running(Echo("live", serves="server"))
    live = worker.bypass_components["Http"].listen_address
    dead = f"http://127.0.0.1:{free_port()}"
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = ServerTemplate()
    server.register_inbound(PullService, "Pull", pull, route="HttpWorkers")
    server.register_outbound(HttpConnection, "HttpWorkers", f"{dead} {live}", route="Pub")
    server.register_outbound(PubService, "Pub", pub)
    server.register_bypass(CacheService, "Cache", db)
    server.preset_cache(name="server", db_address=db, pull_address=pull, pub_address=pub)
    running(server)
    client = Client("server", db)
    try:
        results = list(client.job("server.work", (b"%d" % i for i in range(20)),
                                  messages=20, timeout=30))
    finally:
        client.close()
    assert sorted(results) == sorted(b"%d|live" % i for i in range(20))


def test_connection_needs_somewhere_for_results():
    from greenpylm.parts.http import HttpConnection
    from greenpylm.parts.servers import ServerTemplate
    server = ServerTemplate("s")
    server.register_outbound(HttpConnection, "HttpWorkers", "http://127.0.0.1:1")
    with pytest.raises(ValueError, match="needs a route"):
        server.spawn()
