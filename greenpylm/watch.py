"""`ClusterWatch`: the statistics of a cluster's servers, read again and again.

It asks each server's cache service for its statistics every `interval`
seconds and keeps the last answer with the rates since the one before, so
that the dashboard, ``/metrics``, ``/health`` and ``greenpylm top`` show the
same numbers. Workers are found through their master's statistics; links
between servers are found by matching one server's connecting sockets to
another's bound addresses.
"""
from __future__ import annotations

import json
import time
from typing import Any

import gevent
import zmq.green as zmq

from .cache_client import CacheClient
from .log import get_logger, setup
from .wire import GreenpylmError
from .wire.curve import cluster_keys

DEFAULT_INTERVAL = 1.0  # seconds between two readings


class ClusterWatch:
    """Reads the statistics of `servers` (name -> cache service address)."""

    def __init__(self, servers: dict[str, str], interval: float = DEFAULT_INTERVAL,
                 key: bytes | str | None = None, context: Any = None) -> None:
        if not servers:
            raise ValueError("a watch needs at least one server (name and db address)")
        self.servers = dict(servers)
        self.interval = float(interval)
        setup("watch")
        self.log = get_logger("watch", "stats")
        keys = cluster_keys(key)
        context = context or zmq.Context.instance()
        self.clients = {name: CacheClient(name, db, context, f"watch-{name}", log=self.log,
                                          keys=keys) for name, db in self.servers.items()}
        self.readings: dict[str, dict] = {}  # name -> last statistics, with rates
        self.problems: dict[str, str] = {}  # name -> why its last reading failed
        self.read_at = 0.0
        self._greenlet: gevent.Greenlet | None = None

    # -- reading ------------------------------------------------------------------
    def start(self) -> "ClusterWatch":
        """Read now, then every `interval` seconds in a greenlet of its own."""
        self.read()
        self._greenlet = gevent.spawn(self._run)
        return self

    def _run(self) -> None:
        while True:
            gevent.sleep(max(0.0, self.read_at + self.interval - time.monotonic()))
            self.read()

    def read(self) -> None:
        """Read every server's statistics once (all at once, `interval` at most)."""
        self.read_at = time.monotonic()
        gevent.joinall([gevent.spawn(self._read, name) for name in self.servers])

    def _read(self, name: str) -> None:
        try:
            answer = self.clients[name].request("stats", "", b"", max(self.interval, 0.5))
            figures = json.loads(answer)
        except (GreenpylmError, ValueError) as exc:
            self.problems[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return
        if figures.get("name") != name:
            self.problems[name] = (f"the server at {self.servers[name]} is "
                                   f"{figures.get('name')!r}, not {name!r}")
            return
        figures["read_at"] = time.monotonic()
        self._add_rates(figures, self.readings.get(name))
        self.readings[name] = figures
        self.problems.pop(name, None)

    @staticmethod
    def _add_rates(now: dict, before: dict | None) -> None:
        """Per-second rates of the counters since the reading `before`."""
        elapsed = now["read_at"] - before["read_at"] if before else 0.0
        for field in ("messages_in", "messages_out", "errors"):
            now[field + "_per_s"] = round((now.get(field, 0) - before.get(field, 0)) / elapsed,
                                          1) if elapsed > 0 else 0.0
        done_before = {w["name"]: w["done"] for w in (before or {}).get("workers", ())}
        for worker in now.get("workers", ()):
            done = worker["done"] - done_before.get(worker["name"], worker["done"])
            worker["done_per_s"] = round(done / elapsed, 1) if elapsed > 0 else 0.0

    # -- what is shown --------------------------------------------------------------
    def snapshot(self) -> dict:
        """Every server's last figures (or why it could not be read) and the links."""
        servers = []
        for name, db in self.servers.items():
            figures = dict(self.readings.get(name, {}), name=name, db_address=db)
            figures["up"] = name not in self.problems and name in self.readings
            if name in self.problems:
                figures["problem"] = self.problems[name]
            servers.append(figures)
        return {"servers": servers, "links": self.links()}

    def links(self) -> list[dict]:
        """Which server's socket connects to which server's bound address."""
        bound = {address: name for name, figures in self.readings.items()
                 for address in figures.get("binds", {}).values()}
        found = []
        for name, figures in self.readings.items():
            for part, address in figures.get("connects", {}).items():
                found.append({"from": bound.get(address, address), "to": name, "part": part,
                              "address": address, "known": address in bound})
        return found

    def health(self) -> tuple[bool, dict]:
        """Whether every server answered its last reading, and each one's state."""
        states = {name: ("up" if name in self.readings and name not in self.problems
                         else f"down: {self.problems.get(name, 'not read yet')}")
                  for name in self.servers}
        return all(state == "up" for state in states.values()), states

    def close(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
        for client in self.clients.values():
            client.close()
