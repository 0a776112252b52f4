"""HttpGateway: a server as an HTTP microservice, called with the standard library."""
from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import gevent
import pytest

from greenpylm.parts.gateways import HttpGateway
from greenpylm.parts.wsgi import parse_http_address
from greenpylm.servers import Server
from helpers import Proc, free_port, python_code, tcp

pytestmark = pytest.mark.timeout(90)

MASTER = """
import sys
from greenpylm.parts.gateways import HttpGateway
from greenpylm.servers import Master
pull, pub, wpull, wpush, db, port = sys.argv[1:]
master = Master("m", pull, pub, wpull, wpush, db)
master.register_bypass(HttpGateway, "Gateway", f"http://127.0.0.1:{port}", timeout=20)
master.start()
"""


def post(url: str, body: bytes, method: str = "POST", timeout: float = 30) -> tuple[int, dict, bytes]:
    """Status, headers and body of one request (error statuses included)."""
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def gateway_url():
    """A Master with an HttpGateway and two workers, each in its own process."""
    port = free_port()
    pull, pub, wpull, wpush, db = (tcp(free_port()) for _ in range(5))
    procs = []
    try:
        master = python_code(MASTER, pull, pub, wpull, wpush, db, str(port))
        procs.append(master)
        master.wait_for("serving HTTP")
        for name in ("w1", "w2"):
            procs.append(Proc(["tests/servers_for_tests.py", "worker", name, db]))
        master.wait_for("worker w1 joined")  # wait_for also looks at lines already seen
        master.wait_for("worker w2 joined")
        yield f"http://127.0.0.1:{port}", master
    finally:
        for proc in procs:
            proc.stop()


def test_five_hundred_concurrent_posts_from_fifty_threads(gateway_url):
    url, _ = gateway_url

    def call(i: int) -> tuple[int, bytes, bytes]:
        status, headers, body = post(f"{url}/work", b"%d" % i)
        return status, headers.get("Content-Type", ""), body

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(500)))
    workers = set()
    for i, (status, kind, body) in enumerate(results):
        assert status == 200, (i, status, body)
        assert kind == "application/octet-stream"
        payload, worker = body.split(b"|")
        assert payload == b"%d" % i
        workers.add(worker)
    assert workers <= {b"w1", b"w2"} and workers, workers


def test_a_failing_method_is_a_500_without_the_remote_traceback(gateway_url):
    url, _ = gateway_url
    status, headers, body = post(f"{url}/fail", b"x")
    assert status == 500
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == "RuntimeError"
    assert error["message"] == "worker failure"
    assert error["traceback"] == "" and b"Traceback" not in body and b".py" not in body


def test_an_unknown_method_or_no_method_is_a_404(gateway_url):
    url, _ = gateway_url
    status, _, body = post(f"{url}/nothing", b"x")
    assert status == 404
    assert json.loads(body)["error"] == "UnknownMethod"
    status, _, body = post(f"{url}/", b"x")
    assert status == 404 and "error" in json.loads(body)


def test_get_calls_with_an_empty_payload_and_put_is_a_405(gateway_url):
    url, _ = gateway_url
    status, _, body = post(f"{url}/work", b"", method="GET")
    assert status == 200 and body in (b"|w1", b"|w2")
    status, headers, body = post(f"{url}/work", b"x", method="PUT")
    assert status == 405
    assert headers["Allow"] == "GET, POST"
    assert json.loads(body)["error"] == "MethodNotAllowed"


def test_keep_alive_connection_and_log_is_quiet(gateway_url):
    url, master = gateway_url
    host, port = parse_http_address(url)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for i in range(20):  # one connection, many requests
            connection.request("POST", "/work", body=b"k%d" % i)
            response = connection.getresponse()
            assert response.status == 200
            assert response.read().startswith(b"k%d|" % i)
    finally:
        connection.close()
    # nothing per request above DEBUG: the master said little for 500+ requests
    assert len(master.lines) < 40, master.output()


# -- in process: a Server and its gateway under this test's hub ------------

class Echo(Server):
    def echo(self, payload: bytes) -> bytes:
        return b"echo " + payload

    def drop(self, payload: bytes) -> None:
        return None

    def slow(self, payload: bytes) -> bytes:
        gevent.sleep(float(payload))
        return payload


def in_thread(function, *args):
    """Run blocking stdlib I/O in a real thread while this hub keeps serving."""
    return gevent.get_hub().threadpool.apply(function, args)


def make_server(port: int, **options) -> Echo:
    server = Echo("echo", tcp(free_port()), tcp(free_port()), tcp(free_port()))
    server.register_bypass(HttpGateway, "Gateway", f"http://127.0.0.1:{port}", **options)
    return server


def test_in_process_server_gateway_answers_and_stop_frees_the_port():
    port = free_port()
    server = make_server(port, timeout=0.5, max_body=1000)
    server.spawn()
    try:
        url = f"http://127.0.0.1:{port}"
        status, _, body = in_thread(post, f"{url}/echo", b"hi")
        assert (status, body) == (200, b"echo hi")
        status, _, body = in_thread(post, f"{url}/drop", b"hi")
        assert (status, body) == (204, b"")
        status, _, body = in_thread(post, f"{url}/echo", b"x" * 1001)
        assert status == 413 and json.loads(body)["error"] == "PayloadTooLarge"
        status, _, body = in_thread(post, f"{url}/slow", b"1")
        assert status == 504 and json.loads(body)["error"] == "CallTimeout"
        status, _, body = in_thread(post, f"{url}/nothing", b"")
        assert status == 404 and json.loads(body)["error"] == "UnknownMethod"
    finally:
        server.stop()
    assert not server.running
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    again = make_server(port)  # and a new gateway can serve on it
    again.spawn()
    try:
        status, _, body = in_thread(post, f"http://127.0.0.1:{port}/echo", b"again")
        assert (status, body) == (200, b"echo again")
    finally:
        again.stop()


def test_a_wildcard_port_is_resolved_and_a_busy_port_fails_spawn():
    server = make_server(0)
    server.spawn()
    try:
        gateway = server.bypass_components["Gateway"]
        host, port = parse_http_address(gateway.listen_address)
        assert host == "127.0.0.1" and port > 0
        status, _, body = in_thread(post, f"{gateway.listen_address}/echo", b"w")
        assert (status, body) == (200, b"echo w")
        busy = make_server(port)
        with pytest.raises(OSError):
            busy.spawn()
        assert not busy.running
    finally:
        server.stop()


def test_a_request_in_flight_when_the_server_stops_is_answered():
    server = make_server(0)
    server.spawn()
    url = server.bypass_components["Gateway"].listen_address
    keep_alive = http.client.HTTPConnection(*parse_http_address(url), timeout=30)
    in_thread(keep_alive.request, "POST", "/echo", b"idle")  # then left open, idle
    assert in_thread(lambda: keep_alive.getresponse().read()) == b"echo idle"
    pending = gevent.spawn(in_thread, post, f"{url}/slow", b"0.3")
    gateway = server.bypass_components["Gateway"]
    while gateway._in_flight == 0:  # the request has reached the gateway
        gevent.sleep(0.01)
    server.stop()
    status, _, body = pending.get(timeout=10)
    assert (status, body) == (200, b"0.3")
    keep_alive.close()
