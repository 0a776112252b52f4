"""pylm's 2016 API (``pylm.standalone``): `Server`, `Master`, `Worker`, `Client`.

The same servers and client as `greenpylm.servers` and `greenpylm.clients`,
with that version's signatures: the addresses of pylm's log, performance
and ping services are accepted and ignored (greenpylm logs through loguru,
serves its statistics through the cache service and has no pinger), and
the client's `pipeline` is its session.
"""
from __future__ import annotations

import sys
from typing import Any

from . import clients, servers
from .log import DEFAULT_LEVEL


def _ignored(server: Any, **addresses: str | None) -> None:
    for name, address in addresses.items():
        if address:
            server.log.info("{}={} ignored: greenpylm has no such service", name, address)


class Server(servers.Server):
    """`greenpylm.servers.Server` with pylm 2016's signature."""

    def __init__(self, name: str, db_address: str, pull_address: str, pub_address: str,
                 pipelined: bool = False, log_address: str | None = None,
                 perf_address: str | None = None, ping_address: str | None = None,
                 log_level: int | str = DEFAULT_LEVEL, messages: int = sys.maxsize,
                 **options: Any) -> None:
        super().__init__(name, db_address, pull_address, pub_address, pipelined, log_level,
                         messages, **options)
        _ignored(self, log_address=log_address, perf_address=perf_address,
                 ping_address=ping_address)


class Master(servers.Master):
    """`greenpylm.servers.Master` with pylm 2016's signature."""

    def __init__(self, name: str, pull_address: str, pub_address: str, worker_pull_address: str,
                 worker_push_address: str, db_address: str, log_address: str | None = None,
                 perf_address: str | None = None, ping_address: str | None = None,
                 cache: dict | None = None, log_level: int | str = DEFAULT_LEVEL,
                 **options: Any) -> None:
        super().__init__(name, pull_address, pub_address, worker_pull_address,
                         worker_push_address, db_address, cache=cache, log_level=log_level,
                         **options)
        _ignored(self, log_address=log_address, perf_address=perf_address,
                 ping_address=ping_address)


class Worker(servers.Worker):
    """`greenpylm.servers.Worker` with pylm 2016's signature."""

    def __init__(self, name: str, db_address: str, push_address: str | None = None,
                 pull_address: str | None = None, log_address: str | None = None,
                 perf_address: str | None = None, ping_address: str | None = None,
                 log_level: int | str = DEFAULT_LEVEL, messages: int = sys.maxsize,
                 **options: Any) -> None:
        super().__init__(name, db_address, push_address, pull_address, log_level, messages,
                         **options)
        _ignored(self, log_address=log_address, perf_address=perf_address,
                 ping_address=ping_address)


class Client(clients.Client):
    """`greenpylm.clients.Client` with pylm 2016's signature (`pipeline`: the session)."""

    def __init__(self, server_name: str, db_address: str, push_address: str | None = None,
                 sub_address: str | None = None, pipeline: str | None = None,
                 **options: Any) -> None:
        super().__init__(server_name, db_address, push_address, sub_address, session=pipeline,
                         **options)


__all__ = ["Client", "Master", "Server", "Worker"]
