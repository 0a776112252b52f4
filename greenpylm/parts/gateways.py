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
import time
from typing import Any

from ..wire import CallTimeout, RemoteError
from .wsgi import WsgiPart

DEFAULT_TIMEOUT = 30.0
NOT_FOUND_TYPES = ("UnknownMethod", "WrongServer")


class HttpGateway(WsgiPart):
    """Serves ``POST /<method>`` over HTTP by calling the server's methods."""

    def __init__(self, name: str, listen_address: str, **kw: Any) -> None:
        super().__init__(name, listen_address, **kw)
        self.timeout = float(self.options.get("timeout", DEFAULT_TIMEOUT))
        self.client: Any = None

    def release(self) -> None:
        """Close the client the requests shared."""
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

    @staticmethod
    def error(status: int, kind: str, message: str, traceback: str = "",
              extra: list | None = None) -> tuple[int, list, bytes]:
        """A JSON error response: status, headers, body."""
        body = json.dumps({"error": kind, "message": message, "traceback": traceback}).encode()
        return status, [("Content-Type", "application/json"), *(extra or [])], body
