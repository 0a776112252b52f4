"""`ServerTemplate`: a router plus parts, each a greenlet under one hub."""
from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any, Callable

import gevent
import zmq.green as zmq
from gevent.event import Event

from ..patching import check_patch_order
from ..wire import links
from ..wire.curve import ZapHandler, check_bind, cluster_keys
from ..wire.frames import DEFAULT_MAX_FRAME
from ..log import DEFAULT_LEVEL, HasLogger, Occurrences, get_logger, setup
from .cache_service import DEFAULT_CACHE_LIMIT, Cache
from .inbound import Inbound
from .outbound import Outbound
from .part import Part
from .router import Router

STOP_TIMEOUT = 10.0  # seconds a graceful stop may take to finish the work in hand


class ServerTemplate(HasLogger):
    """Build a server from parts: register them, preset the cache, start.

    `start()` blocks until the server stops; `spawn()` starts it and returns
    the greenlet that runs it, so that many servers can share one process;
    `stop()` ends every part and closes every socket. Sockets are bound or
    connected when the server starts, so a busy address fails `start`/`spawn`.
    """

    def __init__(self, name: str = "", log_level: int | str = DEFAULT_LEVEL,
                 context: Any = None, *, concurrency: int = 1,
                 max_frame: int = DEFAULT_MAX_FRAME, stop_timeout: float = STOP_TIMEOUT,
                 cache_limit: int = DEFAULT_CACHE_LIMIT, key: bytes | str | None = None,
                 insecure: bool = False, advertise: str | None = None) -> None:
        self.name = name
        #: the host other hosts reach this server at, for parts bound to a wildcard
        #: host (None: ``$GREENPYLM_ADVERTISE``, else this host's primary address)
        self.advertise_host = advertise
        #: the cluster's CURVE keys, from `key` or $GREENPYLM_KEY (None: plain sockets)
        self.keys = cluster_keys(key)
        #: listen beyond this host without a key all the same (protected mode off)
        self.insecure = insecure
        #: messages an inbound part handles at once, unless it is told otherwise
        self.concurrency = concurrency
        #: the largest frame a part accepts (bigger ones are bad input)
        self.max_frame = max_frame
        self.log_level = log_level
        self.context = context or zmq.Context.instance()
        #: the key-value store of the cache service, `cache_limit` bytes at most
        self.cache = Cache(cache_limit)
        self.router = Router()
        self.inbound_components: dict[str, Inbound] = {}
        self.outbound_components: dict[str, Outbound] = {}
        self.bypass_components: dict[str, Part] = {}
        self.stats: Counter = Counter()
        self.address_keys: dict[str, Part] = {}
        self.started_at = 0.0
        self._greenlets: dict[Part, list[gevent.Greenlet]] = {}
        self._stopped = Event()
        self._stopped.set()
        self._stopping = False
        self._stop_asked = False  # a signal asked the server (run by `start`) to stop
        self._runner: gevent.Greenlet | None = None
        self.stop_timeout = stop_timeout
        setup(name, log_level)
        self.log = get_logger(name, "server")

    # -- building ---------------------------------------------------------
    def _add(self, table: dict, part: type[Part], name: str, listen_address: str,
             kwargs: dict) -> Part:
        if not name:
            raise ValueError("a part needs a name")
        if any(name in t for t in (self.inbound_components, self.outbound_components,
                                   self.bypass_components)):
            raise ValueError(f"a part named {name!r} is already registered")
        preset = kwargs.pop("cache", None)  # pylm's 2016 form: the server's cache contents
        if preset is not None:
            self.preset_cache(**preset)
        kwargs.setdefault("max_frame", self.max_frame)
        instance = part(name, listen_address, **kwargs)
        table[name] = instance
        return instance

    def register_inbound(self, part: type[Inbound], name: str = "", listen_address: str = "",
                         route: str = "", block: bool = False, log: str = "",
                         hook: Callable | None = None, **kwargs: Any) -> Inbound:
        """Add an inbound part whose messages go to the outbound part `route`;
        with `block`, it waits for that part's feedback. `hook` makes the
        messages to route of each one received (`Inbound.scatter`)."""
        instance = self._add(self.inbound_components, part, name, listen_address,
                             dict(kwargs, hook=hook))
        self.router.register_inbound(name, route=route, block=block, log=log)
        return instance

    def register_outbound(self, part: type[Outbound], name: str = "", listen_address: str = "",
                          route: str = "", log: str = "", hook: Callable | None = None,
                          **kwargs: Any) -> Outbound:
        """Add an outbound part; its feedback, if any, goes on to `route`, through
        `hook` (`Outbound.feedback`: a master's ``gather``; a publisher's topic
        function, ``handle_stream``)."""
        instance = self._add(self.outbound_components, part, name, listen_address,
                             dict(kwargs, hook=hook))
        self.router.register_outbound(name, route=route, log=log, part=instance)
        return instance

    def register_bypass(self, part: type[Part], name: str = "", listen_address: str = "",
                        **kwargs: Any) -> Part:
        """Add a part that never talks to the router (the cache service, say)."""
        return self._add(self.bypass_components, part, name, listen_address, kwargs)

    def advertise(self, key: str, part: Part) -> None:
        """Keep cache entry `key` set to the address `part` actually listens on
        (a wildcard port such as ``tcp://127.0.0.1:*`` is resolved at start)."""
        self.address_keys[key] = part
        self.cache[key] = links.advertised(part.listen_address, self.advertise_host).encode()

    def preset_cache(self, **kwargs: Any) -> None:
        """Store values in the cache before the server starts (``name`` also names the server)."""
        for key, value in kwargs.items():
            self.cache[key] = value if isinstance(value, bytes) else str(value).encode()
        if "name" in kwargs and not self.name:
            self.name = self.cache["name"].decode()
            setup(self.name, self.log_level)
            self.log = get_logger(self.name, "server")

    @property
    def problems(self) -> Occurrences:
        """Log-the-first, count-the-rest, in the server's statistics."""
        return Occurrences(self.log, self.stats)

    # -- running ----------------------------------------------------------
    @property
    def parts(self) -> list[Part]:
        return [*self.bypass_components.values(), *self.outbound_components.values(),
                *self.inbound_components.values()]

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def spawn(self) -> gevent.Greenlet:
        """Open every socket, start every part; return a greenlet that ends when the server stops."""
        if self.running:
            raise RuntimeError(f"server {self.name!r} is already running")
        self.router.check()
        check_patch_order(self.log)
        for part in self.parts:
            if part.bind and part.socket_type >= 0:  # zmq sockets (HTTP has its token)
                check_bind(part.listen_address, self.keys, self.insecure)
        context = self.context
        if self.keys is not None:
            ZapHandler.ensure(context, self.keys)
        opened: list[Part] = []
        try:
            for part in self.parts:
                part.attach(self)
                part.open(context)
                opened.append(part)
        except BaseException:
            for part in opened:
                part.close()
            raise
        for key, part in self.address_keys.items():  # wildcard ports are known only now
            self.cache[key] = links.advertised(part.listen_address, self.advertise_host).encode()
            if part.listen_address != self.cache[key].decode():
                self.log.info("{} is bound to {}, advertised as {}", part.name,
                              part.listen_address, self.cache[key].decode())
        self._stopped.clear()
        self.started_at = time.time()
        for part in self.parts:
            self._greenlets[part] = [gevent.spawn(task) for task in part.tasks()]
            for greenlet in self._greenlets[part]:
                greenlet.link_exception(self._part_failed)
        self.log.info("started: {}", ", ".join(f"{p.name} {p.listen_address}" for p in self.parts))
        self._runner = gevent.spawn(self._stopped.wait)
        return self._runner

    def gauges(self) -> dict:
        """Live figures of the server itself for its statistics (its parts have theirs)."""
        return {}

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the server has stopped; False if `timeout` passed first."""
        return self._stopped.wait(timeout)

    def start(self) -> None:
        """Run the server until it is stopped, or until SIGTERM or SIGINT (Ctrl-C)
        asks it to stop gracefully: then it stops intake, finishes or hands
        back the work it holds, and returns."""
        # signals belong to the program: take them only when it runs this server
        # from its main greenlet (not under gevent.spawn inside an application);
        # taken before it starts, so that a signal right after 'started' stops it
        main = gevent.getcurrent().parent is None
        self._stop_asked = False
        handlers = [gevent.signal_handler(number, self._stop_on_signal, number)
                    for number in (signal.SIGTERM, signal.SIGINT)] if main else []
        try:
            try:
                runner = self.spawn()
            except Exception:  # what it waited for was closed by the stop a signal asked
                if not self._stop_asked:
                    raise
                self.log.info("stopped while starting")
                return
            if not self._stop_asked:  # a signal during spawn: stop at once
                runner.join()
        finally:
            for handler in handlers:
                handler.cancel()
            self.stop()

    def _stop_on_signal(self, number: int) -> None:
        self._stop_asked = True
        self.log.info("{}: stopping intake, finishing the work in hand",
                      signal.Signals(number).name)
        gevent.spawn(self.stop)

    def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: stop intake, let the messages in hand be finished
        and queued output leave (up to `timeout`, default `stop_timeout`
        seconds), hand back what cannot be finished, close every socket."""
        if not self.running:
            return
        if self._stopping:  # another greenlet is stopping it: wait till it is done
            self._stopped.wait()
            return
        self._stopping = True
        try:
            self._stop(self.stop_timeout if timeout is None else timeout)
            self.log.info("stopped")
        finally:
            self._stopping = False
            self._stopped.set()
        if self._runner is not None and self._runner is not gevent.getcurrent():
            self._runner.join(1)  # so that nothing of this server is left alive
        self._runner = None

    def _stop(self, timeout: float) -> None:
        current = gevent.getcurrent()
        deadline = time.monotonic() + timeout

        def kill(greenlets: list[gevent.Greenlet]) -> None:
            gevent.killall([g for g in greenlets if g is not current])

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        for part in self.parts:  # intake first
            if part in self._greenlets and not isinstance(part, Outbound):
                part.stop_intake(self._greenlets[part])
        for part in self.inbound_components.values():
            part.drain(left())
        kill([g for p in self.parts if not isinstance(p, Outbound)
              for g in self._greenlets.get(p, ())])
        for part in self.parts:
            part.before_close()
        for part in self.outbound_components.values():
            part.flush(left())
        kill([g for p in self.outbound_components.values() for g in self._greenlets.get(p, ())])
        for part in self.parts:
            part.close()
        self._greenlets.clear()

    def _part_failed(self, greenlet: gevent.Greenlet) -> None:
        self.log.opt(exception=greenlet.exception).critical(
            "a part failed; stopping the server: {!r}", greenlet.exception)
        gevent.spawn(self.stop)

    def __enter__(self) -> "ServerTemplate":
        self.spawn()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

