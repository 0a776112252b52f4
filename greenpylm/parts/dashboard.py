"""`DashboardService`: the live view of a cluster over HTTP (gevent.pywsgi).

    GET /              the dashboard page (no build step, nothing from a CDN)
    GET /static/NAME   its script and style sheet, shipped in the package
    GET /api/cluster   the figures the page draws, as JSON
    GET /metrics       the same in Prometheus' text format
    GET /health        200 if every server answered its last reading, else 503

What it shows comes from a `View` (`greenpylm.dashboard.Dashboard`, which
reads the servers' statistics); the part itself only answers requests.
"""
from __future__ import annotations

import json
import pkgutil
from typing import Protocol

from .wsgi import WsgiPart

#: the files under greenpylm/static/ the page needs, and their types
STATIC = {"dashboard.js": "text/javascript; charset=utf-8",
          "dashboard.css": "text/css; charset=utf-8"}
JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


class View(Protocol):
    """What the dashboard shows."""

    def snapshot(self) -> dict:
        """The figures the page draws (``/api/cluster``)."""
        ...

    def health(self) -> tuple[bool, dict]:
        """Whether the cluster is healthy, and each server's state."""
        ...

    def metrics(self) -> tuple[str, bytes]:
        """Content type and body of ``/metrics``."""
        ...


class DashboardService(WsgiPart):
    """Answers the dashboard's requests from `view` (read-only: GET and HEAD only)."""

    def __init__(self, name: str, listen_address: str, *, view: View, **options: object) -> None:
        super().__init__(name, listen_address, **options)
        self.view = view

    @staticmethod
    def static(name: str) -> bytes:
        data = pkgutil.get_data("greenpylm", f"static/{name}")
        if data is None:
            raise FileNotFoundError(name)
        return data

    def respond(self, environ: dict) -> tuple[int, list, bytes]:
        """The status, headers and body that answer one request."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return 405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], \
                b"the dashboard is read-only: GET only\n"
        path = environ.get("PATH_INFO", "/")
        if path in ("/", "/index.html"):
            return 200, [("Content-Type", "text/html; charset=utf-8")], self.static("index.html")
        if path.startswith("/static/") and path[len("/static/"):] in STATIC:
            name = path[len("/static/"):]
            return 200, [("Content-Type", STATIC[name])], self.static(name)
        if path == "/api/cluster":
            return 200, list(JSON), json.dumps(self.view.snapshot()).encode()
        if path == "/health":
            healthy, states = self.view.health()
            return (200 if healthy else 503), list(JSON), json.dumps(
                {"healthy": healthy, "servers": states}).encode()
        if path == "/metrics":
            try:
                content_type, body = self.view.metrics()
            except RuntimeError as exc:  # prometheus_client is missing
                return 501, [("Content-Type", "text/plain")], f"{exc}\n".encode()
            return 200, [("Content-Type", content_type)], body
        return 404, [("Content-Type", "text/plain")], b"not found\n"
