"""`Dashboard`: a small server that shows a running cluster in a browser.

    Dashboard({"m": "tcp://10.0.0.5:5555"}, "http://127.0.0.1:8080").start()

or ``greenpylm dashboard m=tcp://10.0.0.5:5555 --listen http://127.0.0.1:8080``.
It reads each server's statistics through its cache service (`ClusterWatch`)
and serves the page, ``/api/cluster``, ``/metrics`` and ``/health``
(`parts.dashboard.DashboardService`). The page shows what anyone reaching
its port asks for, so it listens on 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

from typing import Any

import gevent

from .log import DEFAULT_LEVEL
from .metrics import CONTENT_TYPE, exposition
from .parts.dashboard import DashboardService
from .parts.servers import ServerTemplate
from .watch import DEFAULT_INTERVAL, ClusterWatch

DEFAULT_LISTEN = "http://127.0.0.1:8080"


class Dashboard(ServerTemplate):
    """Serves the live view of `servers` (name -> cache service address)."""

    def __init__(self, servers: dict[str, str], listen_address: str = DEFAULT_LISTEN, *,
                 interval: float = DEFAULT_INTERVAL, name: str = "dashboard",
                 log_level: int | str = DEFAULT_LEVEL, key: bytes | str | None = None,
                 **template: Any) -> None:
        super().__init__(name, log_level, key=key, **template)
        self.watch = ClusterWatch(servers, interval, key, self.context)
        self.page = self.register_bypass(DashboardService, "Dashboard", listen_address,
                                         view=self)

    def spawn(self) -> gevent.Greenlet:
        """Read the servers once, then serve the page (and go on reading)."""
        self.watch.start()
        runner = super().spawn()
        self.log.info("dashboard of {} on {}", ", ".join(self.watch.servers),
                      self.page.listen_address)
        return runner

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        self.watch.close()

    # -- the view -----------------------------------------------------------
    def snapshot(self) -> dict:
        """The figures of every server and the links between them."""
        return self.watch.snapshot()

    def health(self) -> tuple[bool, dict]:
        """Whether every server answered, and each one's state."""
        return self.watch.health()

    def metrics(self) -> tuple[str, bytes]:
        """The figures in Prometheus' text format."""
        return CONTENT_TYPE, exposition(self.watch.snapshot())
