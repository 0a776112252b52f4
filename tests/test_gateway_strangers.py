"""An HttpGateway open to strangers: nothing learnt by default, slow clients
cut off, ambiguous requests refused, a bearer token when asked for."""
from __future__ import annotations

import json
import socket
import time

import pytest

from helpers import free_port, python_code, tcp
from test_gateway import post

pytestmark = pytest.mark.timeout(120)

SERVER = """
import sys, json
from greenpylm.parts.gateways import HttpGateway
from greenpylm.servers import Server
class S(Server):
    def echo(self, payload): return payload
    def fail(self, payload): raise ValueError("secret detail in " + __file__)
db, pull, pub, port, options = sys.argv[1:]
server = S("s", db, pull, pub)
server.register_bypass(HttpGateway, "Gateway", f"http://127.0.0.1:{port}", header_timeout=2,
                       **json.loads(options))
server.start()
"""


def gateway(procs, **options) -> str:
    port = free_port()
    proc = python_code(SERVER, *(tcp(free_port()) for _ in range(3)), str(port),
                       json.dumps(options))
    procs.append(proc)
    proc.wait_for("serving HTTP")
    return f"http://127.0.0.1:{port}"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        return s.recv(65536)


def test_errors_say_nothing_of_the_server_by_default(procs):
    url = gateway(procs)
    status, _, body = post(f"{url}/fail", b"x")
    assert status == 500 and json.loads(body)["traceback"] == ""
    assert b"Traceback" not in body
    status, _, body = post(f"{url}/nosuch", b"x")
    assert status == 404 and b"echo" not in body  # the methods are not listed
    status, _, body = post(f"{url}/", b"", method="GET")
    assert status == 404


def test_tracebacks_and_the_method_list_are_opt_in(procs):
    url = gateway(procs, tracebacks=True, list_methods=True)
    status, _, body = post(f"{url}/fail", b"x")
    assert status == 500 and "Traceback" in json.loads(body)["traceback"]
    status, _, body = post(f"{url}/", b"", method="GET")
    listing = json.loads(body)
    assert status == 200 and {"echo", "fail"} <= set(listing["methods"])
    assert listing["docs"]["echo"] == "Return the payload unchanged."


def test_a_thousand_slow_partial_requests_do_not_stop_the_others(procs):
    url = gateway(procs)
    port = int(url.rsplit(":", 1)[1])
    slow = []
    try:
        for _ in range(1000):  # a request line, then nothing: slowloris
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        took = []
        for i in range(20):
            start = time.monotonic()
            assert post(f"{url}/echo", b"%d" % i, timeout=5)[2] == b"%d" % i
            took.append(time.monotonic() - start)
        assert max(took) < 1.0, took
        # and the slow ones are cut off (400) once their headers are late
        s = slow[0]
        s.settimeout(10)
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    finally:
        for s in slow:
            s.close()


def test_several_content_lengths_are_a_400(procs):
    url = gateway(procs)
    port = int(url.rsplit(":", 1)[1])
    for lengths in ((b"3", b"3"), (b"3", b"5")):
        reply = raw_request(port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: "
                            + lengths[0] + b"\r\nContent-Length: " + lengths[1]
                            + b"\r\n\r\nabcde")
        assert reply.startswith(b"HTTP/1.1 400"), reply
    assert post(f"{url}/echo", b"ok")[2] == b"ok"


def test_a_bearer_token_when_one_is_set(procs):
    url = gateway(procs, token="s3cret")
    status, headers, _ = post(f"{url}/echo", b"x")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    import urllib.request
    request = urllib.request.Request(f"{url}/echo", data=b"x",
                                     headers={"Authorization": "Bearer wrong"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a wrong token was let in")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    request = urllib.request.Request(f"{url}/echo", data=b"x",
                                     headers={"Authorization": "Bearer s3cret"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == b"x"
