"""Workers over HTTP (pylm's ``HttpConnection`` idea), the gevent way.

Two parts:

`HttpService` (bypass, inbound) serves a server's ``execute`` over HTTP, on
`gevent.pywsgi`; it is what makes a `MethodRunner` an HTTP worker::

    worker.register_bypass(HttpService, "Http", "http://127.0.0.1:8081", hook=worker.execute)

`HttpConnection` (standard, outbound) is a master's side, registered in
place of the worker push: it POSTs each message it is handed to one of its
workers' URLs (round robin) and routes the answer on as the result::

    server.register_inbound(PullService, "Pull", pull, route="HttpWorkers")
    server.register_outbound(HttpConnection, "HttpWorkers",
                             "http://127.0.0.1:8081 http://127.0.0.1:8082",
                             route="Pub")
    server.register_outbound(PubService, "Pub", pub)

The HTTP exchange is language-neutral, so a worker may be written in
anything that speaks HTTP:

- request: ``POST /`` (any path), the body is the payload; header
  ``X-Greenpylm-Function`` is the message's ``function`` (``server.method``,
  or several separated by spaces) and ``X-Greenpylm-Stage`` the index of the
  step to run (0 when absent);
- answer: ``200`` with the new payload as the body; ``204`` when the step
  dropped the message; otherwise a JSON error record
  ``{"type": ..., "message": ..., "traceback": ...}`` (``404`` for
  ``UnknownMethod``/``WrongServer``, ``400`` for a bad request, ``500`` for
  an error raised by the step), which the client raises as `RemoteError`.

Only the payload, function and stage travel: the master keeps the rest of
the message (id, client, pipeline...) and puts the answer in its reply.
Shipped callables (steps ``server.@digest``) cannot travel over HTTP: they
get an error record at once. A step that fans out (several results) is
answered with an error too.

Both sides are greenlets on gevent sockets, never threads: the server with
`gevent.pywsgi`, the client with `http.client` over `gevent.socket`
connections (kept alive and reused, one request at a time each).
"""
from __future__ import annotations

import http.client
import itertools
import socket
import time
from collections import deque
from typing import Any

import gevent.socket
from gevent.event import Event
from gevent.pool import Pool

from ..wire import ErrorRecord, Message
from .outbound import Outbound
from .gateways import NOT_FOUND_TYPES
from .wsgi import REASONS, WsgiPart, parse_http_address

FUNCTION_HEADER = "X-Greenpylm-Function"
STAGE_HEADER = "X-Greenpylm-Stage"
DEFAULT_CONCURRENCY = 100   # requests a master's HttpConnection has in flight at once
DEFAULT_TIMEOUT = 30.0      # seconds one request may take


def error_body(record: ErrorRecord) -> bytes:
    """The JSON body that carries `record` (``{"type", "message", "traceback"}``)."""
    return record.to_bytes()


# -- the worker's side ------------------------------------------------------
class HttpService(WsgiPart):
    """Serves ``POST /`` by running its hook (message -> list of result messages:
    ``register_bypass(HttpService, ..., hook=server.execute)``).

    Options: `max_body` (bytes, 16 MiB),
    `connections` (10,000), `stop_timeout` (seconds in-flight requests get
    to finish when the server stops, 2).

    The address is ``http://host:port``; port ``0`` or ``*`` takes a free
    port, and `listen_address` then names the port taken.
    """

    def prepare(self) -> None:
        """A step needs something to run it."""
        if self.hook is None:
            raise ValueError(f"{self.name} needs a hook that runs a step "
                             "(hook=server.execute)")

    def respond(self, environ: dict) -> tuple[int, list, bytes]:
        """The status, headers and body that answer one request."""
        if environ.get("REQUEST_METHOD") != "POST":
            return self.error(405, ErrorRecord(
                "MethodNotAllowed", f"{environ.get('REQUEST_METHOD')} is not allowed; use POST"),
                extra=[("Allow", "POST")])
        function = environ.get("HTTP_X_GREENPYLM_FUNCTION", "").strip()
        if not function:
            return self.error(400, ErrorRecord("BadRequest", f"no {FUNCTION_HEADER} header"))
        stage_text = environ.get("HTTP_X_GREENPYLM_STAGE", "0").strip() or "0"
        if not stage_text.isdigit():
            return self.error(400, ErrorRecord("BadRequest",
                                               f"{STAGE_HEADER} is not a number: {stage_text!r}"))
        if self._stopping:
            return self.error(503, ErrorRecord("Stopping", "the server is stopping"))
        body = self.read_body(environ)
        if body is None:
            return self.error(413, ErrorRecord(
                "PayloadTooLarge", f"the body is larger than {self.max_body} bytes"),
                extra=[("Connection", "close")])
        message = Message(function, body, stage=int(stage_text))
        self.server.stats["in"] += 1
        started = time.monotonic()
        try:
            results = self.hook(message)
        except Exception as exc:  # a bug below the user's code: answer, log once per kind
            self.problems.note(type(exc).__name__, "executing {} failed: {!r}", function, exc)
            return self.error(500, ErrorRecord.from_exception(exc))
        self.log.debug("{}: {:.1f} ms", function, 1000 * (time.monotonic() - started))
        self.server.stats["out"] += 1
        if len(results) != 1:
            return self.error(500, ErrorRecord(
                "FanOutUnsupported",
                f"{function} gave {len(results)} results; over HTTP a step gives one"))
        result = results[0]
        if result.error is not None:
            status = 404 if result.error.type in NOT_FOUND_TYPES else 500
            return self.error(status, result.error)
        if result.dropped:
            return 204, [], b""
        payload = result.payload
        if isinstance(payload, str):
            return 200, [("Content-Type", "text/plain; charset=utf-8")], payload.encode()
        if isinstance(payload, (bytes, bytearray, memoryview)):
            return 200, [("Content-Type", "application/octet-stream")], bytes(payload)
        return self.error(500, ErrorRecord(
            "TypeError", f"{function} returned {type(payload).__name__}, not bytes"))

    @staticmethod
    def error(status: int, record: ErrorRecord, extra: list | None = None
              ) -> tuple[int, list, bytes]:
        """A JSON error response: status, headers, body."""
        return status, [("Content-Type", "application/json"), *(extra or [])], error_body(record)


# -- the master's side ------------------------------------------------------
class GeventHTTPConnection(http.client.HTTPConnection):
    """`http.client.HTTPConnection` on a gevent socket: waiting yields to the hub
    (with or without monkey patching)."""

    def connect(self) -> None:
        self.sock = gevent.socket.create_connection(
            (self.host, self.port), self.timeout, self.source_address)
        try:  # headers and body in one segment, no Nagle delay on small requests
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class HttpConnection(Outbound):
    """Hands each message to an HTTP worker and routes the answer on.

    `listen_address` is one or more ``http://host:port`` URLs separated by
    spaces; messages go to them round robin. Each message is POSTed in a
    greenlet of a bounded pool (option `concurrency`, default 100; when it
    is full, `handle` waits, and so does the part that feeds it). A worker
    that cannot be reached (refused, reset, timed out) is skipped: the
    message goes to the next URL, each URL tried once, then the client gets
    a ``ConnectionError`` record. A retried message may run twice (a worker
    that died after doing the work): at-least-once, like a master's re-dispatch.

    The answer (a reply to the message: same id, client, pipeline, stage)
    goes on through `Router.emit` to the part this one's `route` names
    (``register_outbound(..., route="Pub")``).

    Options: `concurrency` (100; pylm's name `max_workers` too), `timeout`
    (seconds per request, 30).
    """

    bind = False

    def __init__(self, name: str, listen_address: str, *, concurrency: int | None = None,
                 max_workers: int | None = None, timeout: float = DEFAULT_TIMEOUT,
                 **outbound: Any) -> None:
        super().__init__(name, listen_address, **outbound)
        self.urls = listen_address.split()
        if not self.urls:
            raise ValueError(f"{name} needs at least one worker URL")
        self.targets = [parse_http_address(url) for url in self.urls]
        self.concurrency = max(1, int(concurrency or max_workers or DEFAULT_CONCURRENCY))
        self.timeout = float(timeout)
        self.pool: Pool | None = None
        self._next = itertools.count()
        self._spare: dict[tuple[str, int], deque] = {t: deque() for t in self.targets}

    # -- life cycle -------------------------------------------------------
    def open(self, context: Any) -> None:
        """No socket: check where results go, make the request pool."""
        if not self.server.router.outbound[self.name].route:
            raise ValueError(f"{self.name} needs a route: the outbound part its answers go to")
        self.pool = Pool(self.concurrency)
        self.log.debug("workers at {}", " ".join(self.urls))

    def tasks(self) -> list:
        return [self.run]

    def run(self) -> None:
        Event().wait()  # the requests run in the pool's greenlets

    def flush(self, timeout: float) -> None:
        """Let the requests in flight finish (their results are sent on at once)."""
        if self.pool is not None:
            self.pool.join(timeout)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.kill(block=True, timeout=1)
        for spare in self._spare.values():
            while spare:
                spare.pop().close()

    # -- the router's side -------------------------------------------------
    def handle(self, message: Message) -> Message | None:
        """Start the request for `message` (waits while `concurrency` are in flight)."""
        self.pool.spawn(self.call, message)
        return None

    def call(self, message: Message) -> None:
        """POST one message to a worker and route its result (in a pool greenlet)."""
        try:
            result = self.ask(message)
        except Exception as exc:  # a bug here must not lose the message
            self.hook_failed(exc, "an HTTP call")
            result = message.reply(error=ErrorRecord.from_exception(exc))
        self.server.stats["out"] += 1
        self.server.router.emit(self.name, [result])

    def ask(self, message: Message) -> Message:
        """The reply to `message`, from whichever worker answers."""
        if message.error is not None or message.dropped:
            return message  # nothing to run: pass it on
        step = message.current_step()
        if step.partition(".")[2].startswith("@") or message.code is not None:
            return message.reply(error=ErrorRecord(
                "Unsupported", f"{step!r} is a shipped callable; HTTP workers run methods only"))
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, (bytes, bytearray, memoryview)) or message.pickled:
            return message.reply(error=ErrorRecord(
                "TypeError", "an HTTP worker takes bytes payloads only"))
        headers = {FUNCTION_HEADER: message.function, STAGE_HEADER: str(message.stage),
                   "Content-Type": "application/octet-stream"}
        failures = []
        start = next(self._next)
        for attempt in range(len(self.targets)):
            target = self.targets[(start + attempt) % len(self.targets)]
            try:
                status, body = self.request(target, bytes(payload), headers)
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{self.urls[self.targets.index(target)]}: {exc!r}")
                self.problems.note(f"down {target}", "worker {}:{} failed: {!r}; "
                                   "its messages go to the others", *target, exc)
                continue
            return self.answer(message, status, body)
        return message.reply(error=ErrorRecord(
            "ConnectionError", "no HTTP worker answered: " + "; ".join(failures)))

    def request(self, target: tuple[str, int], body: bytes, headers: dict) -> tuple[int, bytes]:
        """POST `body` to `target` on a kept-alive connection; status and body.

        A spare connection the worker closed meanwhile fails at once: the
        request is tried again on a fresh one."""
        spare = self._spare[target]
        while True:
            reused = bool(spare)
            conn = spare.pop() if reused else GeventHTTPConnection(*target, timeout=self.timeout)
            try:
                conn.request("POST", "/", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                if reused:
                    continue
                raise
            if response.will_close:
                conn.close()
            else:
                spare.append(conn)
            return response.status, data

    @staticmethod
    def answer(message: Message, status: int, body: bytes) -> Message:
        """The reply an HTTP answer makes of `message`."""
        if status == 200:
            return message.reply(body)
        if status == 204:
            return message.reply(dropped=True)
        try:
            record = ErrorRecord.from_bytes(body)
        except Exception:
            reason = REASONS.get(status, "") or http.client.responses.get(status, "")
            record = ErrorRecord("HttpError", f"the worker answered {status} {reason}: "
                                 f"{body[:200]!r}")
        return message.reply(error=record)


__all__ = ["HttpConnection", "HttpService", "GeventHTTPConnection", "FUNCTION_HEADER",
           "STAGE_HEADER"]
