"""What the HTTP parts share: an HTTP listener on gevent.pywsgi as a part.

`WsgiPart` binds in `open` (a busy port fails the server's spawn), serves
from its own greenlet, counts the requests in flight so that a stopping
server lets them finish, and frees its port in `close`. Subclasses answer
requests in `respond`.
"""
from __future__ import annotations

import socket
from typing import Any, Callable, Iterable

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from .inbound import BypassInbound

DEFAULT_MAX_BODY = 16 * 1024 * 1024
DEFAULT_CONNECTIONS = 10_000
DEFAULT_STOP_TIMEOUT = 2.0
HEADER_TIMEOUT = 10.0  # seconds a client has to send a request's line and headers
IDLE_TIMEOUT = 60.0    # seconds a keep-alive connection may wait for its next request

REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found",
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


class GuardedHandler(WSGIHandler):
    """pywsgi's handler with what a listener open to strangers needs: a time
    limit on an idle keep-alive connection (`IDLE_TIMEOUT`) and on a request's
    line and headers (`HEADER_TIMEOUT`: a client that sends them slowly is
    cut off, 400), and no request with several Content-Length headers (400:
    two parsers could read two bodies). And TCP_NODELAY: pywsgi sends a
    response's headers and body in two writes, which Nagle would hold back
    until the peer's delayed ACK (some 40 ms per request on keep-alive)."""

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a unix socket, say)
            pass
        super().handle()

    def read_requestline(self) -> str:
        with gevent.Timeout(self.server.idle_timeout, False):
            return super().read_requestline()
        return ""  # idle too long: pywsgi closes the connection

    def read_request(self, raw_requestline: str) -> bool:
        timeout = gevent.Timeout(self.server.header_timeout)
        timeout.start()
        try:
            parsed = super().read_request(raw_requestline)
        except gevent.Timeout as exc:
            if exc is not timeout:
                raise
            raise ValueError("the request's headers came too slowly") from None
        finally:
            timeout.close()
        if len(self.headers.get_all("Content-Length") or ()) > 1:
            raise ValueError("several Content-Length headers")
        return parsed


class WsgiPart(BypassInbound):
    """An HTTP listener served by gevent.pywsgi: a greenlet per connection.

    Options: `max_body` (bytes, 16 MiB), `connections` (10,000),
    `stop_timeout` (seconds in-flight requests get to finish when the server
    stops, 2), `header_timeout` and `idle_timeout` (seconds, `GuardedHandler`).
    The address is ``http://host:port``; port ``0`` or ``*`` takes a free
    port, and `listen_address` then names the port taken.
    """

    def __init__(self, name: str, listen_address: str, *, max_body: int = DEFAULT_MAX_BODY,
                 connections: int = DEFAULT_CONNECTIONS,
                 stop_timeout: float = DEFAULT_STOP_TIMEOUT,
                 header_timeout: float = HEADER_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 **part: Any) -> None:
        super().__init__(name, listen_address, **part)
        self.host, self.port = parse_http_address(listen_address)
        self.max_body = int(max_body)
        self.connections = int(connections)
        self.stop_timeout = float(stop_timeout)
        self.header_timeout = float(header_timeout)
        self.idle_timeout = float(idle_timeout)
        self.wsgi: WSGIServer | None = None
        self._stopping = False
        self._in_flight = 0
        self._idle = Event()
        self._idle.set()

    # -- life cycle -------------------------------------------------------
    def prepare(self) -> None:
        """What a subclass needs before the listener opens."""

    def release(self) -> None:
        """What a subclass lets go of once the listener is closed."""

    def open(self, context: Any) -> None:
        """Bind the HTTP listener (a busy port fails the server's spawn)."""
        self.prepare()
        self._stopping = False
        wsgi = WSGIServer((self.host, self.port), self.application,
                          spawn=Pool(self.connections), log=None,
                          error_log=DebugLog(self.log), handler_class=GuardedHandler)
        wsgi.header_timeout, wsgi.idle_timeout = self.header_timeout, self.idle_timeout
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
            self._stopping = True
            if self.wsgi is not None:
                self.wsgi.close()  # no new connections; requests in hand finish in close()

    def drain(self, timeout: float) -> None:
        self._idle.wait(timeout)

    def close(self) -> None:
        """Let in-flight requests finish (up to `stop_timeout`), then close every
        connection and the listener; the port is free when this returns."""
        wsgi, self.wsgi = self.wsgi, None
        self._stopping = True
        if wsgi is not None:
            wsgi.close()
            self._idle.wait(self.stop_timeout)
            wsgi.stop(timeout=0)  # kills idle keep-alive connections
        self.release()

    # -- requests ---------------------------------------------------------
    def application(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The WSGI application: counts the request in flight, answers with `respond`."""
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
        raise NotImplementedError

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
