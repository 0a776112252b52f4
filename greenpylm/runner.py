"""`Cluster`: servers, workers, pipelines and clients in one process, one hub.

    with Cluster() as cluster:
        cluster.start(master, worker1, worker2, pipeline)
        client = cluster.client("master", db_address)
        results = list(client.job("master.work", payloads))

Over ``inproc://`` addresses everything runs in this process, without
threads; the same servers run across processes over ``tcp://`` with only
the addresses changed. Leaving the block (or `stop`) stops every server,
closes every client and socket, ends every greenlet and terminates the zmq
context.
"""
from __future__ import annotations

from typing import Any

import gevent
import zmq.green as zmq

from .chained.clients import LoopClient
from .clients import Client
from .parts.connections import SubConnection
from .parts.servers import ServerTemplate
from .wire import CallTimeout

START_TIMEOUT = 10.0


class Cluster:
    """Runs servers as greenlets of this process's hub and stops them together."""

    def __init__(self) -> None:
        self.servers: list[ServerTemplate] = []
        self.clients: list[Client | LoopClient] = []

    def start(self, *servers: ServerTemplate, timeout: float = START_TIMEOUT) -> "Cluster":
        """Start `servers` (in any order: a worker waits for its master) and return
        once every one is up and every subscription between them is live."""
        starting = [gevent.spawn(server.spawn) for server in servers]
        gevent.joinall(starting, timeout=timeout)
        failed = [g for g in starting if not g.successful()]
        self.servers.extend(s for s, g in zip(servers, starting) if g.successful())
        if failed:
            gevent.killall(failed)
            errors = [repr(g.exception) if g.exception else "did not start in time"
                      for g in failed]
            raise RuntimeError(f"{len(failed)} of {len(servers)} servers failed to start: "
                               + "; ".join(errors))
        subscriptions = [part.subscribed for server in servers
                         for part in server.inbound_components.values()
                         if isinstance(part, SubConnection)]
        for subscribed in subscriptions:
            if not subscribed.wait(timeout):
                raise CallTimeout(f"a subscription did not become live in {timeout}s "
                                  "(is the server it subscribes to part of the cluster?)")
        return self

    def client(self, *args: Any, **kwargs: Any) -> Client:
        """A `Client` (same arguments) that is closed with the cluster."""
        client = Client(*args, **kwargs)
        self.clients.append(client)
        return client

    def loop_client(self, *args: Any, **kwargs: Any) -> LoopClient:
        """A `LoopClient` (same arguments) that is closed with the cluster."""
        client = LoopClient(*args, **kwargs)
        self.clients.append(client)
        return client

    def wait(self) -> None:
        """Block until every server has stopped (or Ctrl-C)."""
        for server in list(self.servers):
            server.join()

    def stop(self) -> None:
        """Close the clients, stop the servers (last started first), terminate zmq."""
        for client in self.clients:
            client.close()
        for server in reversed(self.servers):
            server.stop()
        self.clients.clear()
        self.servers.clear()
        zmq.Context.instance().destroy(linger=0)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
