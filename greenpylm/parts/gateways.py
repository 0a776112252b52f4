"""`HttpGateway`: a bypass part that turns its server into an HTTP microservice.

::

    server.register_bypass(HttpGateway, "Gateway", "http://127.0.0.1:8080")

``POST /<method>`` with the payload as the body calls ``<server>.<method>``
on the gateway's own server, as a client would, and answers with the
result's bytes (``application/octet-stream``; ``204`` when the method
dropped the message). Errors are JSON bodies
``{"error": type, "message": ..., "traceback": ...}``: ``404`` for an
unknown method (or a path with none), ``500`` for an error raised by the
method (with the remote traceback), ``504`` when no result came within
the gateway's `timeout`, ``405`` for a method other than POST, ``413`` for
a body larger than `max_body`.

It is served by `gevent.pywsgi`: each connection is a greenlet (at most
`connections` of them), never a thread. Every request shares one client
of the server (`greenpylm.clients.Client` for the high-level servers, made
by the server's `client_factory`: this part, in the parts layer, never
imports the clients above it).

Options (keywords to `register_bypass`): `timeout` (seconds a call may
take, 30), `max_body` (bytes, 16 MiB), `connections` (10,000),
`stop_timeout` (seconds in-flight requests get to finish when the server
stops, 2).

The address is ``http://host:port``; port ``0`` or ``*`` takes a free port,
and `listen_address` then names the port taken.
"""
from __future__ import annotations

import json
import socket
import time
from typing import Any, Callable, Iterable

from gevent.event import Event
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from ..log import Occurrences
from ..wire import CallTimeout, RemoteError
from .core import BypassInbound

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_CONNECTIONS = 10_000
DEFAULT_STOP_TIMEOUT = 2.0
NOT_FOUND_TYPES = ("UnknownMethod", "WrongServer")

REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}


def parse_http_address(address: str) -> tuple[str, int]:
    """``http://host:port`` (port ``0`` or ``*``: any free one) as ``(host, port)``."""
    if not address.startswith("http://"):
        raise ValueError(f"an HttpGateway listens on 'http://host:port', not {address!r}")
    rest = address[len("http://"):].rstrip("/")
    host, colon, port = rest.rpartition(":")
    if not colon or not host:
        raise ValueError(f"an HttpGateway needs 'http://host:port', not {address!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if port == "*":
        return host, 0
    try:
        return host, int(port)
    except ValueError:
        raise ValueError(f"bad port in {address!r}") from None


class DebugLog:
    """What pywsgi writes (connection errors, bad requests) goes to DEBUG, not stderr."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def write(self, text: str) -> None:
        """pywsgi's error log, written to the part's logger at DEBUG."""
        text = text.rstrip()
        if text:
            self.log.debug("pywsgi: {}", text)

    def flush(self) -> None:
        """Nothing to flush: loguru writes as it goes."""
        pass


class NoDelayHandler(WSGIHandler):
    """pywsgi sends a response's headers and body in two writes: without
    TCP_NODELAY, Nagle holds the body back until the peer's delayed ACK
    (some 40 ms per request on a keep-alive connection)."""

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a unix socket, say)
            pass
        super().handle()


class HttpGateway(BypassInbound):
    """Serves ``POST /<method>`` over HTTP by calling the server's methods."""

    def __init__(self, name: str, listen_address: str, **kw: Any) -> None:
        super().__init__(name, listen_address, **kw)
        self.host, self.port = parse_http_address(listen_address)
        self.timeout = float(self.options.get("timeout", DEFAULT_TIMEOUT))
        self.max_body = int(self.options.get("max_body", DEFAULT_MAX_BODY))
        self.connections = int(self.options.get("connections", DEFAULT_CONNECTIONS))
        self.stop_timeout = float(self.options.get("stop_timeout", DEFAULT_STOP_TIMEOUT))
        self.wsgi: WSGIServer | None = None
        self.client: Any = None
        self.problems: Occurrences | None = None
        self._stopping = False
        self._in_flight = 0
        self._idle = Event()
        self._idle.set()

    # -- life cycle -------------------------------------------------------
    def open(self, context: Any) -> None:
        """Bind the HTTP listener (a busy port fails the server's spawn)."""
        self.problems = Occurrences(self.log)
        self._stopping = False
        wsgi = WSGIServer((self.host, self.port), self.application,
                          spawn=Pool(self.connections), log=None,
                          error_log=DebugLog(self.log), handler_class=NoDelayHandler)
        wsgi.init_socket()  # binds and listens now
        self.wsgi = wsgi
        host, port = wsgi.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.listen_address = f"http://{shown}:{port}"
        self.log.debug("bound {}", self.listen_address)

    def tasks(self) -> list:
        return [self.run]

    def run(self) -> None:
        """Serve until the server stops (the accept loop is the listener's own greenlet)."""
        self.wsgi.start()
        self.log.info("serving HTTP on {}", self.listen_address)
        try:
            Event().wait()
        finally:
            # intake stops: no new connections; requests in hand are finished in close()
            self._stopping = True
            if self.wsgi is not None:
                self.wsgi.close()

    def close(self) -> None:
        """Let in-flight requests finish (up to `stop_timeout`), then close every
        connection and the listener; the port is free when this returns."""
        wsgi, self.wsgi = self.wsgi, None
        self._stopping = True
        if wsgi is not None:
            wsgi.close()
            self._idle.wait(self.stop_timeout)
            wsgi.stop(timeout=0)  # kills idle keep-alive connections
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:  # closing must go on
                self.log.debug("closing the gateway's client: {!r}", exc)

    # -- requests ---------------------------------------------------------
    def get_client(self) -> Any:
        """The one client every request shares, created at the first request by
        the server's `client_factory` (the high-level servers set one; a server
        built from parts passes option `client_factory`)."""
        if self.client is None:
            factory = self.options.get("client_factory") or self.server.client_factory
            if factory is None:
                raise RuntimeError(f"{self.name} cannot call its server: give it the option "
                                   "client_factory (a function of the server -> a client)")
            self.client = factory(self.server)
        return self.client

    def application(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The WSGI application that answers each request."""
        self._in_flight += 1
        self._idle.clear()
        try:
            status, headers, body = self.respond(environ)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        if self._stopping:
            headers.append(("Connection", "close"))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {REASONS.get(status, '')}", headers)
        return [body]

    def respond(self, environ: dict) -> tuple[int, list, bytes]:
        """The status, headers and body that answer one request."""
        method = environ.get("PATH_INFO", "").strip("/")
        if environ.get("REQUEST_METHOD") != "POST":
            return self.error(405, "MethodNotAllowed",
                              f"{environ.get('REQUEST_METHOD')} is not allowed; use POST",
                              extra=[("Allow", "POST")])
        if not method:
            return self.error(404, "NoMethod", "POST /<method>: the path names no method")
        if not method.isidentifier():
            return self.error(404, "UnknownMethod", f"{method!r} is not a method name")
        if self._stopping:
            return self.error(503, "Stopping", "the server is stopping")
        body = self.read_body(environ)
        if body is None:
            return self.error(413, "PayloadTooLarge",
                              f"the body is larger than {self.max_body} bytes",
                              extra=[("Connection", "close")])
        function = f"{self.server.name}.{method}"
        started = time.monotonic()
        try:
            result = self.get_client().eval(function, body, timeout=self.timeout)
        except RemoteError as exc:
            status = 404 if exc.remote_type in NOT_FOUND_TYPES else 500
            self.log.debug("POST /{}: {} {}", method, status, exc.remote_type)
            return self.error(status, exc.remote_type, exc.remote_message, exc.remote_traceback)
        except CallTimeout as exc:
            self.log.debug("POST /{}: timed out", method)
            return self.error(504, "CallTimeout", str(exc))
        except Exception as exc:  # the gateway's own trouble: answer, log once per kind
            self.problems.note(type(exc).__name__, "POST /{} failed: {!r}", method, exc)
            return self.error(500, type(exc).__name__, str(exc))
        self.log.debug("POST /{}: {:.1f} ms", method, 1000 * (time.monotonic() - started))
        if result is None:
            return 204, [], b""
        if isinstance(result, str):
            return 200, [("Content-Type", "text/plain; charset=utf-8")], result.encode()
        if isinstance(result, (bytes, bytearray, memoryview)):
            return 200, [("Content-Type", "application/octet-stream")], bytes(result)
        return self.error(500, "TypeError",
                          f"{function} returned {type(result).__name__}, not bytes")

    def read_body(self, environ: dict) -> bytes | None:
        """The request's body; None if it is larger than `max_body`."""
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit():
            if int(length) > self.max_body:
                return None
            return stream.read(int(length))
        body = stream.read(self.max_body + 1)  # chunked, or no length given
        return None if len(body) > self.max_body else body

    @staticmethod
    def error(status: int, kind: str, message: str, traceback: str = "",
              extra: list | None = None) -> tuple[int, list, bytes]:
        """A JSON error response: status, headers, body."""
        body = json.dumps({"error": kind, "message": message, "traceback": traceback}).encode()
        return status, [("Content-Type", "application/json"), *(extra or [])], body
