"""`HttpGateway`: a bypass part that turns its server into an HTTP microservice.

::

    server.register_bypass(HttpGateway, "Gateway", "http://127.0.0.1:8080")

``POST /<method>`` (or ``GET``, with no body) calls ``<server>.<method>``
on the gateway's own server with the body as the payload, and answers with
the result's bytes (``application/octet-stream``; ``204`` when the method
dropped the message). Errors are JSON bodies
``{"error": type, "message": ..., "traceback": ...}``: ``404`` for an
unknown method (or a path with none), ``500`` for an error raised by the
method (with the remote traceback), ``504`` when no result came within
the gateway's `timeout`, ``405`` for a method other than GET and POST,
``413`` for a body larger than `max_body`.

It is served by `gevent.pywsgi`: each connection is a greenlet (at most
`connections` of them), never a thread. Requests reach the server one of
two ways:

- registered as above, each request goes in memory to the part clients
  push to (the server's ``pull_address`` part), in the request's greenlet,
  and its answer comes back from the server's publisher, in memory too
  (`greenpylm.parts.local.LocalCalls`): no socket, no client;
- pylm's way, the gateway listens on `hostname` and `port` and its
  `listen_address` names a `GatewayRouter` part of the same server, whose
  route (a master's ``WorkerPush``, say) takes the requests in memory; the
  answers come back through a `GatewayDealer`::

      server.register_inbound(GatewayRouter, "gateway_router",
                              "inproc://gateway_router", route="WorkerPush")
      server.register_outbound(GatewayDealer, "gateway_dealer",
                               listen_address="inproc://gateway_router")
      server.register_bypass(HttpGateway, name="HttpGateway",
                             listen_address="inproc://gateway_router",
                             hostname="localhost", port=8888)
      server.register_inbound(WorkerPullService, "WorkerPull", worker_pull,
                              route="gateway_dealer")

Options (keywords to `register_bypass`): `timeout` (seconds a call may
take, 30), `max_body` (bytes, 16 MiB), `connections` (10,000),
`stop_timeout` (seconds in-flight requests get to finish when the server
stops, 2).

The address is ``http://host:port``; port ``0`` or ``*`` takes a free port,
and `listen_address` then names the port taken.
"""
from __future__ import annotations

import hmac
import json
import time
from typing import Any

from ..wire import CallTimeout, Message, RemoteError
from .inbound import Inbound
from .local import LocalCalls, PendingCalls
from .outbound import Outbound
from .wsgi import WsgiPart

DEFAULT_TIMEOUT = 30.0
NOT_FOUND_TYPES = ("UnknownMethod", "WrongServer")


class GatewayRouter(Inbound):
    """Where an `HttpGateway` hands its requests to the router (pylm's name).

    It has no socket: `eval` turns a request into a message, routes it to
    this part's `route` and waits for the answer, which the server's
    `GatewayDealer` brings back. Its `listen_address` is only the name the
    gateway and the dealer find it by (``inproc://gateway_router``).
    """

    def __init__(self, name: str = "gateway_router",
                 listen_address: str = "inproc://gateway_router", **inbound: Any) -> None:
        super().__init__(name, listen_address, **inbound)
        self.calls = PendingCalls()

    def open(self, context: Any) -> None:
        """Nothing to bind: requests come from the gateway in memory."""

    def tasks(self) -> list:
        return []

    def eval(self, function: str, payload: bytes, timeout: float | None = None) -> Any:
        """Route one request and wait for its answer (`PendingCalls.call`)."""
        return self.calls.call(self.accept, function, payload, timeout)


def gateway_router(server: Any, address: str, who: str) -> GatewayRouter:
    """The `GatewayRouter` of `server` registered at `address`."""
    for part in server.inbound_components.values():
        if isinstance(part, GatewayRouter) and part.listen_address == address:
            return part
    raise ValueError(f"{who} finds no GatewayRouter registered at {address!r}")


class GatewayDealer(Outbound):
    """Brings the answers routed to it back to the `GatewayRouter` at its
    `listen_address`, whose requests they answer (pylm's name; no socket)."""

    def __init__(self, name: str = "gateway_dealer",
                 listen_address: str = "inproc://gateway_router", **outbound: Any) -> None:
        super().__init__(name, listen_address, **outbound)
        self.requests: GatewayRouter | None = None

    def open(self, context: Any) -> None:
        """Find the router part whose requests this part answers."""
        self.requests = gateway_router(self.server, self.listen_address, self.name)

    def tasks(self) -> list:
        return []

    def handle(self, message: Message) -> None:
        self.handle_batch([message])

    def handle_batch(self, messages: list[Message]) -> list:
        self.server.stats["out"] += len(messages)
        self.requests.calls.answered(messages)
        return []


class HttpGateway(WsgiPart):
    """Serves ``POST /<method>`` (and ``GET``) over HTTP by calling the server's methods.

    Given `hostname` and `port` (pylm's form), it listens there and calls
    through the `GatewayRouter` that `listen_address` names; otherwise it
    listens on `listen_address` (``http://host:port``) and calls through a
    client of its server.

    What strangers may learn is opt-in: `tracebacks` puts remote tracebacks
    in error bodies (they are logged either way), `list_methods` answers
    ``GET /`` with the server's methods and names them in unknown-method
    errors; with `token`, every request needs ``Authorization: Bearer <token>``.
    """

    def __init__(self, name: str, listen_address: str = "inproc://gateway_router", *,
                 hostname: str | None = None, port: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, tracebacks: bool = False,
                 list_methods: bool = False, token: str | None = None, **wsgi: Any) -> None:
        self.router_address = ""
        if hostname is not None or port is not None:
            self.router_address = listen_address
            listen_address = f"http://{hostname or '0.0.0.0'}:{8888 if port is None else port}"
        super().__init__(name, listen_address, **wsgi)
        self.timeout = float(timeout)
        self.tracebacks = tracebacks
        self.list_methods = list_methods
        self.token = f"Bearer {token}".encode() if token else b""
        self.calls: GatewayRouter | LocalCalls | None = None

    def prepare(self) -> None:
        """Find the way into the server: pylm's `GatewayRouter`, or the parts
        clients use (`LocalCalls`)."""
        if self.router_address:
            self.calls = gateway_router(self.server, self.router_address, self.name)
        else:
            self.calls = LocalCalls(self.server)

    def release(self) -> None:
        """Take no more answers."""
        calls, self.calls = self.calls, None
        if isinstance(calls, LocalCalls):
            calls.close()

    # -- requests ---------------------------------------------------------
    def respond(self, environ: dict) -> tuple[int, list, bytes]:
        """The status, headers and body that answer one request."""
        if self.token and not hmac.compare_digest(
                environ.get("HTTP_AUTHORIZATION", "").encode("latin-1"), self.token):
            return self.error(401, "Unauthorized", "this gateway needs a bearer token",
                              extra=[("WWW-Authenticate", "Bearer")])
        method = environ.get("PATH_INFO", "").strip("/")
        if not method and environ.get("REQUEST_METHOD") == "GET" and self.list_methods:
            docs = getattr(self.server, "method_docs", dict)()  # name -> docstring
            return 200, [("Content-Type", "application/json")], json.dumps(
                {"server": self.server.name, "methods": sorted(docs), "docs": docs}).encode()
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            return self.error(405, "MethodNotAllowed",
                              f"{environ.get('REQUEST_METHOD')} is not allowed; use POST",
                              extra=[("Allow", "GET, POST")])
        method = method.rpartition(".")[2]  # pylm's paths may name the server too
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
            result = self.calls.eval(function, body, timeout=self.timeout)
        except RemoteError as exc:
            status = 404 if exc.remote_type in NOT_FOUND_TYPES else 500
            self.log.debug("POST /{}: {} {}", method, status, exc.remote_type)
            message = exc.remote_message
            if status == 404 and not self.list_methods:
                message = f"{self.server.name!r} has no method {method!r}"
            return self.error(status, exc.remote_type, message, exc.remote_traceback)
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

    def error(self, status: int, kind: str, message: str, traceback: str = "",
              extra: list | None = None) -> tuple[int, list, bytes]:
        """A JSON error response: status, headers, body (the traceback only with
        `tracebacks`)."""
        body = json.dumps({"error": kind, "message": message,
                           "traceback": traceback if self.tracebacks else ""}).encode()
        return status, [("Content-Type", "application/json"), *(extra or [])], body
