"""A small legacy WSGI app, monkey-patched and served by gevent.pywsgi.

GET /square?n=12 answers 144, computed by the greenpylm cluster; each
request is a greenlet, and all share one `Client`. When the cluster does not
answer within CALL_TIMEOUT seconds (10 by default: it is down, say), the
request gets a 503 that says so; an error raised by the cluster's step is a 500.
"""
from gevent import monkey

monkey.patch_all()  # first, before any other import

import os  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402

from greenpylm import CallTimeout, RemoteError  # noqa: E402
from greenpylm.clients import Client  # noqa: E402

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5575"))
HTTP_PORT = int(os.environ.get("HTTP_PORT", "8080"))
CALL_TIMEOUT = float(os.environ.get("CALL_TIMEOUT", "10"))
client = Client("squares", f"tcp://127.0.0.1:{BASE}")


def application(environ, start_response):
    if environ["PATH_INFO"] != "/square":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"try /square?n=12\n"]
    n = parse_qs(environ.get("QUERY_STRING", "")).get("n", ["0"])[0]
    try:
        result = client.eval("squares.square", n.encode(), timeout=CALL_TIMEOUT)
    except CallTimeout:
        start_response("503 Service Unavailable",
                       [("Content-Type", "text/plain"), ("Retry-After", "5")])
        return [f"the cluster did not answer within {CALL_TIMEOUT:g} s: "
                "is examples/legacy_app/cluster.py running?\n".encode()]
    except RemoteError as error:
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{error.remote_type}: {error.remote_message}\n".encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [result + b"\n"]


if __name__ == "__main__":
    server = WSGIServer(("127.0.0.1", HTTP_PORT), application, log=None)
    server.start()  # bound and listening from here on
    print(f"serving on http://127.0.0.1:{HTTP_PORT}/square?n=12", flush=True)
    server.serve_forever()
