"""Web workers, pylm's way: a `RequestHandler` subclass's methods served over HTTP.

::

    class MyHandler(RequestHandler):
        def foo(self, payload):
            return payload + b' processed online'

    DebugServer('localhost', 8888, MyHandler).serve_forever()

A master reaches it through `greenpylm.parts.connections.HttpConnection`,
which POSTs each message as the HTTP exchange of `greenpylm.parts.http`
describes (the body is the payload, ``X-Greenpylm-Function`` and
``X-Greenpylm-Stage`` say which step to run). pylm sent protobuf messages
instead; the methods a handler defines are the same.
"""
from __future__ import annotations

import traceback
from typing import Callable, Iterable
from wsgiref.simple_server import make_server

from ..log import get_logger, setup
from ..wire import ErrorRecord, Message

FUNCTION_VARIABLE = "HTTP_X_GREENPYLM_FUNCTION"
STAGE_VARIABLE = "HTTP_X_GREENPYLM_STAGE"


class RequestHandler:
    """Answers one request by running the method its step names on the payload.

    Subclasses define the methods (payload in, payload out; None drops the
    message). `self.message` is the message being handled (its `function`,
    `stage`, `payload`). An exception, an unknown method or a result that
    is not bytes is answered with a JSON error record, which the client
    raises as `greenpylm.RemoteError`.
    """

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.message: Message | None = None

    def handle(self) -> tuple[str, bytes]:
        """The status line and body that answer the request."""
        if self.environ.get("REQUEST_METHOD") != "POST":
            return "405 Method Not Allowed", b""
        length = self.environ.get("CONTENT_LENGTH") or "0"
        body = self.environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        stage = self.environ.get(STAGE_VARIABLE, "0")
        function = self.environ.get(FUNCTION_VARIABLE, "")
        self.message = Message(function, body, stage=int(stage) if stage.isdigit() else 0)
        method = self.message.current_step().partition(".")[2] if function else ""
        target = getattr(self, method, None) if method and not method.startswith("_") else None
        if not callable(target) or method in vars(RequestHandler):
            return self.error("404 Not Found", ErrorRecord(
                "UnknownMethod", f"{type(self).__name__} has no method {method!r}"))
        try:
            result = target(body)
        except Exception as exc:
            traceback.print_exc()
            return self.error("500 Internal Server Error", ErrorRecord.from_exception(exc))
        if result is None:
            return "204 No Content", b""
        if not isinstance(result, (bytes, bytearray)):
            return self.error("500 Internal Server Error", ErrorRecord(
                "TypeError", f"{method} returned {type(result).__name__}, not bytes"))
        return "200 OK", bytes(result)

    @staticmethod
    def error(status: str, record: ErrorRecord) -> tuple[str, bytes]:
        """A status line and the JSON body carrying `record`."""
        return status, record.to_bytes()


class WSGIApplication:
    """A WSGI application serving a `RequestHandler` class: any WSGI server can run it."""

    def __init__(self, handler: type[RequestHandler]) -> None:
        self.handler = handler

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        status, body = self.handler(environ).handle()
        content = "application/octet-stream" if status.startswith("2") else "application/json"
        start_response(status, [("Content-Type", content), ("Content-Length", str(len(body)))])
        return [body]


class DebugServer:
    """Serves a `RequestHandler` on `host`:`port` with the standard library's
    `wsgiref` (one request at a time, as pylm's did); for more, serve a
    `WSGIApplication` with `gevent.pywsgi` or any WSGI server."""

    def __init__(self, host: str, port: int, handler: type[RequestHandler]) -> None:
        self.httpd = make_server(host, port, WSGIApplication(handler))
        self.url = f"http://{host}:{self.httpd.server_port}"
        setup(handler.__name__)
        self.log = get_logger(handler.__name__, "web-worker")

    def serve_forever(self) -> None:
        """Answer requests until the process ends."""
        self.log.info("serving on {}", self.url)
        self.httpd.serve_forever()

    def handle_request(self) -> None:
        """Answer one request."""
        self.httpd.handle_request()


__all__ = ["DebugServer", "RequestHandler", "WSGIApplication"]
