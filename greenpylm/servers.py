"""High-level servers, with pylm's names, signatures and hooks.

Each is a `ServerTemplate` (a router plus parts, all greenlets under one
hub) assembled from the parts library:

- `Server`: clients push to it, it runs its own methods, publishes results;
- `Pipeline` and `Sink`: like `Server`, fed by subscriptions to one or
  several previous servers instead of by clients;
- `Master` and `Hub`: hand the work to `Worker`/`MuxWorker` processes and
  publish what they send back; `scatter`, `gather` and `handle_stream` hooks.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any, Iterable

import gevent

from .cache_client import CONNECT_TIMEOUT, CacheClient, UsesCache
from .log import DEFAULT_LEVEL
from .methods import MethodRunner
from .shipping import Seal
from .parts.client_link import ClientLinkService
from .parts.connections import SubConnection
from .parts.http import HttpService
from .parts.servers import ServerTemplate
from .parts.services import CacheService, PubService, PullService
from .parts.ledger import (HEARTBEAT_TIMEOUT, MAX_CAPACITY, TIME_LIMIT_TRIES, WorkerPullService,
                           WorkerPushService)
from .parts.worker_connection import DEFAULT_CAPACITY, WorkerConnection
from .wire import Message, MissingKeyError, RemoteError
from .wire.transport import deadline_after


class Server(MethodRunner):
    """A standalone server: clients call its methods, ``'name.method'``.

    Parts: a cache service on `db_address`, a pull service on `pull_address`
    whose messages run the user's methods, a pub service on `pub_address`.
    The cache service is also the client link: a greenpylm client calls the
    server there and gets its results back on its own connection. With
    ``pipelined=True`` results are published under the server's name, for a
    `Pipeline` subscribed to it, instead of to the calling client (and the
    cache service is only that). `heartbeat_timeout`: seconds of silence
    after which a client's connection is dropped and what it was owed freed.
    """

    def __init__(self, name: str, db_address: str, pull_address: str, pub_address: str,
                 pipelined: bool = False, log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, *, heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 **options: Any) -> None:
        super().__init__(name, log_level, messages, pipelined, **options)
        pull = self.register_inbound(PullService, "Pull", pull_address, route="Pub",
                                     hook=self.execute)
        publish_and_cache(self, pub_address, db_address,
                          None if pipelined else ("Pub", self.execute, heartbeat_timeout))
        self.advertise("pull_address", pull)


class Pipeline(MethodRunner):
    """A server fed by the stream of the server named `previous` (at `sub_address`).

    A method returning ``None`` drops the message. With ``to_client=True``
    results go back to the client that started them; otherwise they are
    published under this server's name for the next step. It runs the
    method named by each message's current step, whichever server that step
    names: in a tee, every pipeline subscribed to a server runs its step.
    """

    checks_server_name = False

    def __init__(self, name: str, db_address: str, sub_address: str, pub_address: str,
                 previous: str, to_client: bool = True, log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, **options: Any) -> None:
        super().__init__(name, log_level, messages, not to_client, **options)
        self.register_inbound(SubConnection, "Sub", sub_address, route="Pub", hook=self.execute,
                              topic=previous)
        publish_and_cache(self, pub_address, db_address)
        self.preset_cache(sub_address=sub_address)


class Sink(MethodRunner):
    """A server fed by several streams: `previous[i]` published at `sub_addresses[i]`.

    Like `Pipeline`, it runs the method its messages' current step names.
    """

    checks_server_name = False

    def __init__(self, name: str, db_address: str, sub_addresses: list[str], pub_address: str,
                 previous: list[str], to_client: bool = True,
                 log_level: int | str = DEFAULT_LEVEL, messages: int = sys.maxsize,
                 **options: Any) -> None:
        super().__init__(name, log_level, messages, not to_client, **options)
        if isinstance(previous, str):
            previous = [previous] * len(sub_addresses)
        if len(previous) != len(sub_addresses):
            raise ValueError(f"Sink {name!r}: {len(sub_addresses)} sub_addresses but "
                             f"{len(previous)} previous servers")
        for i, (address, topic) in enumerate(zip(sub_addresses, previous)):
            self.register_inbound(SubConnection, f"Sub{i}", address, route="Pub",
                                  hook=self.execute, topic=topic)
        publish_and_cache(self, pub_address, db_address)
        self.preset_cache(sub_addresses=" ".join(sub_addresses))


def publish_and_cache(server: ServerTemplate, pub_address: str, db_address: str,
                      clients: tuple[str, Any, float] | None = None) -> None:
    """Register the ``Pub`` part `server` publishes through (topics from its
    `handle_stream`) and its ``Cache`` service, and advertise both in the cache.

    With `clients` (the route, hook and heartbeat timeout of what clients
    send), the cache service is also the client link (`ClientLinkService`,
    advertised as ``client_address``): clients call the server on it and get
    their results back on it."""
    pub = server.register_outbound(PubService, "Pub", pub_address, hook=server.publishing)
    server.preset_cache(name=server.name)
    server.advertise("pub_address", pub)
    if clients is None:
        server.advertise("db_address", server.register_bypass(CacheService, "Cache", db_address))
        return
    route, hook, heartbeat_timeout = clients
    link = server.register_inbound(ClientLinkService, "Cache", db_address, route=route,
                                   hook=hook, heartbeat_timeout=heartbeat_timeout)
    server.advertise("db_address", link)
    server.advertise("client_address", link)


class BaseMaster(ServerTemplate):
    """What masters and hubs share: workers do the work; hooks shape the stream.

    `scatter(message)` runs on each incoming message and yields the messages
    handed to the workers (zero, one or many); `gather(message)` runs on each
    result from a worker and yields the messages to publish; `handle_stream`
    gives the topic, as for `Server`.
    """

    def __init__(self, name: str, pipelined: bool, log_level: int | str,
                 worker_pull_address: str, worker_push_address: str, db_address: str,
                 pub_address: str, ledger: dict, template: dict,
                 serves_clients: bool = False) -> None:
        super().__init__(name, log_level, **template)
        #: signs again what the stream moves on a stage (a pipelined master's results)
        self.seal = Seal(template.get("key"))
        self.pipelined = pipelined
        pushed = self.register_inbound(WorkerPullService, "WorkerPull", worker_pull_address,
                                       route="Pub", hook=self.gather)
        link = self.register_outbound(WorkerPushService, "WorkerPush", worker_push_address,
                                      route="Pub", hook=self.gather, **ledger)
        publish_and_cache(self, pub_address, db_address, ("WorkerPush", self.scatter,
                          link.heartbeat_timeout) if serves_clients and not pipelined else None)
        self.advertise("worker_pull_address", pushed)
        self.advertise("worker_push_address", link)
        if link.time_limit:  # the workers take it from here
            self.preset_cache(time_limit=link.time_limit)

    handle_stream = MethodRunner.handle_stream
    publishing = MethodRunner.publishing
    change_payload = staticmethod(MethodRunner.change_payload)

    def scatter(self, message: Message) -> Iterable[Message]:
        """Messages for the workers made from one incoming message (itself, by
        default); an override may be a generator."""
        return (message,)

    def gather(self, message: Message) -> Iterable[Message]:
        """Messages to publish made from one worker result (itself, by default;
        an override may be a generator)."""
        return (message,)


class Master(BaseMaster):
    """Receives work from clients on `pull_address` (and on its cache service,
    the client link, as `Server` does), hands it to workers, publishes their
    results on `pub_address` (to the client, or down a pipeline with
    ``pipelined=True``). `cache` may preset the cache's contents;
    `heartbeat_timeout` bounds the silence of workers and clients;
    `max_worker_capacity` the messages one worker holds, whatever it claims;
    `time_limit` (seconds, off by default) how long a message may run on a
    worker before it is handed to another, `time_limit_tries` times at most
    (then its client gets a `TimeLimitExceeded` error)."""

    def __init__(self, name: str, pull_address: str, pub_address: str, worker_pull_address: str,
                 worker_push_address: str, db_address: str, pipelined: bool = False,
                 cache: dict | None = None, log_level: int | str = DEFAULT_LEVEL, *,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 max_worker_capacity: int = MAX_CAPACITY, time_limit: float | None = None,
                 time_limit_tries: int = TIME_LIMIT_TRIES, **template: Any) -> None:
        ledger = dict(heartbeat_timeout=heartbeat_timeout, max_capacity=max_worker_capacity,
                      time_limit=time_limit, time_limit_tries=time_limit_tries)
        super().__init__(name, pipelined, log_level, worker_pull_address, worker_push_address,
                         db_address, pub_address, ledger, template, serves_clients=True)
        pull = self.register_inbound(PullService, "Pull", pull_address, route="WorkerPush",
                                     hook=self.scatter)
        self.advertise("pull_address", pull)
        self.preset_cache(**(cache or {}))


class Hub(BaseMaster):
    """A master fed by the stream of the server named `previous` (at `sub_address`)."""

    def __init__(self, name: str, sub_address: str, pub_address: str, worker_pull_address: str,
                 worker_push_address: str, db_address: str, previous: str,
                 pipelined: bool = False, cache: dict | None = None,
                 log_level: int | str = DEFAULT_LEVEL, *,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
                 max_worker_capacity: int = MAX_CAPACITY, time_limit: float | None = None,
                 time_limit_tries: int = TIME_LIMIT_TRIES, **template: Any) -> None:
        ledger = dict(heartbeat_timeout=heartbeat_timeout, max_capacity=max_worker_capacity,
                      time_limit=time_limit, time_limit_tries=time_limit_tries)
        super().__init__(name, pipelined, log_level, worker_pull_address, worker_push_address,
                         db_address, pub_address, ledger, template)
        self.register_inbound(SubConnection, "Sub", sub_address, route="WorkerPush",
                              hook=self.scatter, topic=previous)
        self.preset_cache(sub_address=sub_address, **(cache or {}))


class Worker(UsesCache, MethodRunner):
    """Does a master's work: pulls messages, runs its methods, pushes results back.

    Given only the master's `db_address`, it asks the master's cache for the
    address it takes work from (and for the master's name, which the steps it
    runs carry); results go back over the same connection, with the tickets
    the master needs to know what is done (`push_address` is kept for pylm's
    signature). `set`, `get` and `delete` use the master's cache. `spawn`
    (and so `start`) raises `CallTimeout` if the master's cache service does
    not answer within `connect_timeout` seconds (None: it waits for ever).
    """

    def __init__(self, name: str = "", db_address: str = "", push_address: str | None = None,
                 pull_address: str | None = None, log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, *, capacity: int = DEFAULT_CAPACITY,
                 time_limit: float | None = None,
                 connect_timeout: float | None = CONNECT_TIMEOUT, **runner: Any) -> None:
        if not db_address:
            raise ValueError("a Worker needs the db_address of its master")
        worker_id = str(uuid.uuid4())
        super().__init__(name or worker_id, log_level, messages, **runner)
        self.db_address = db_address
        self.push_address = push_address
        self.pull_address = pull_address
        self.capacity = capacity
        #: seconds a message may run here (None: the master's `time_limit`, if any)
        self.time_limit = time_limit
        #: seconds `spawn` waits for the master's cache service (None: for ever)
        self.connect_timeout = connect_timeout
        self.cache_client = CacheClient("master", db_address, self.context, worker_id,
                                        log=self.log, keys=self.keys)

    def spawn(self) -> gevent.Greenlet:
        """Ask the master for what is missing, connect to it, start working."""
        if not self.inbound_components:
            deadline = deadline_after(self.connect_timeout)

            def left() -> float | None:
                return None if deadline is None else max(0.0, deadline - time.monotonic())

            def ask(operation: str, key: str) -> bytes:
                return self.cache_client.request(operation, key, timeout=left())

            self.serves = ask("get", "name").decode()
            self.cache_client.server_name = self.serves
            self.pull_address = self.pull_address or ask("get", "worker_push_address").decode()
            if self.time_limit is None:
                try:
                    self.time_limit = float(ask("get", "time_limit"))
                except MissingKeyError:
                    pass  # the master sets none
            try:  # so that `greenpylm methods` can list them at the master
                self.cache_client.request("announce", self.name,
                                          json.dumps(self.method_docs()).encode(), timeout=left())
            except RemoteError as exc:
                self.log.debug("the master keeps no list of methods: {}", exc)
            self.register_inbound(WorkerConnection, "Master", self.pull_address,
                                  hook=self.execute, capacity=self.capacity,
                                  time_limit=self.time_limit)
            self.log.info("working for {!r} at {}", self.serves, self.pull_address)
        return super().spawn()

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        self.cache_client.close()


class MuxWorker(Worker):
    """A `Worker` whose methods may return (or be generators of) several
    payloads: each goes back to the master as a result of its own."""

    fans_out = True


class HttpWorker(MethodRunner):
    """A worker whose methods are served over HTTP (pylm's HttpConnection idea):
    a master reaches it through `greenpylm.parts.http.HttpConnection`.

    `serves`: the server name the steps it runs carry (a master's); without
    it, any server name is accepted (the URL decides what reaches it).
    """

    def __init__(self, name: str, listen_address: str = "http://127.0.0.1:0",
                 serves: str | None = None, log_level: int | str = DEFAULT_LEVEL,
                 messages: int = sys.maxsize, **options: Any) -> None:
        super().__init__(name, log_level, messages, **options)
        if serves:
            self.serves = serves
        else:
            self.checks_server_name = False
        self.register_bypass(HttpService, "Http", listen_address, hook=self.execute)
