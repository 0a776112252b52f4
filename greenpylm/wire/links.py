"""How every socket greenpylm makes meets the network: written once.

`new_socket` gives each socket the same liveness options (zmq heartbeats,
TCP keepalive, a bounded reconnect back-off), so that a broken link or a
half-open connection is noticed within seconds, not after TCP's
retransmission back-off. `bind` and `connect` add CURVE when the cluster
has keys and, on bound sockets, zmq's own size limit, so that a peer's
oversized frame is refused before it is read into memory.

Addresses: a socket bound to a wildcard host (``*``, ``0.0.0.0``, ``[::]``)
is advertised under an address other hosts can reach (`advertised`), and a
wildcard host given to a connecting socket means this host (`reachable`).
"""
from __future__ import annotations

import os
import socket as _socket
from dataclasses import dataclass
from typing import Any

import zmq

from .curve import ClusterKeys, secure

ADVERTISE_VARIABLE = "GREENPYLM_ADVERTISE"
WILDCARDS = {"*", "0.0.0.0", "::", "[::]", ""}
FRAME_SLACK = 64 * 1024  # bytes a frame may hold beyond a part's `max_frame` (its header)


@dataclass(frozen=True)
class Liveness:
    """Seconds that decide how soon a dead link is noticed and healed.

    `heartbeat`: zmq PING interval on every connection; `timeout`: silence
    after which a connection is dropped (and a connecting socket reconnects);
    `reconnect_max`: the longest wait between reconnection attempts (they
    start at 0.1 s and double; one that has not connected after `timeout` is
    given up and tried again). TCP keepalive probes after `timeout` of
    idleness too. Set from ``$GREENPYLM_HEARTBEAT``,
    ``$GREENPYLM_HEARTBEAT_TIMEOUT`` and ``$GREENPYLM_RECONNECT_MAX``.
    """

    heartbeat: float = 1.0
    timeout: float = 3.0
    reconnect_max: float = 2.0

    @classmethod
    def from_environment(cls) -> "Liveness":
        def seconds(name: str, default: float) -> float:
            raw = os.environ.get(name)
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"${name} must be a number of seconds, not {raw!r}") from None
            if value <= 0:
                raise ValueError(f"${name} must be positive, not {raw!r}")
            return value
        return cls(seconds("GREENPYLM_HEARTBEAT", cls.heartbeat),
                   seconds("GREENPYLM_HEARTBEAT_TIMEOUT", cls.timeout),
                   seconds("GREENPYLM_RECONNECT_MAX", cls.reconnect_max))

    def apply(self, socket: Any) -> None:
        """Set the options on `socket` (before it binds or connects)."""
        socket.setsockopt(zmq.HEARTBEAT_IVL, int(self.heartbeat * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(self.timeout * 1000))
        socket.setsockopt(zmq.HEARTBEAT_TTL, int(self.timeout * 1000))
        socket.setsockopt(zmq.RECONNECT_IVL, 100)
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, int(self.reconnect_max * 1000))
        # a connect whose SYN was lost (a cut link) is tried afresh, not after TCP's back-off
        socket.setsockopt(zmq.CONNECT_TIMEOUT, int(self.timeout * 1000))
        socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
        socket.setsockopt(zmq.TCP_KEEPALIVE_IDLE, max(1, int(self.timeout)))
        socket.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 1)
        socket.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)


LIVENESS = Liveness.from_environment()


def new_socket(context: Any, kind: int) -> Any:
    """A zmq socket of `kind` with the liveness options (and LINGER 0: whoever
    needs its output flushed on close says how long)."""
    socket = context.socket(kind)
    socket.setsockopt(zmq.LINGER, 0)
    LIVENESS.apply(socket)
    return socket


def bind(socket: Any, address: str, keys: ClusterKeys | None, frame_limit: int) -> str:
    """Bind `socket` to `address` (CURVE server if `keys`; zmq drops a peer
    that sends a frame over `frame_limit` bytes); the address it listens on
    (a wildcard port resolved)."""
    socket.setsockopt(zmq.MAXMSGSIZE, frame_limit)
    _ipv6(socket, address)
    secure(keys, socket, address, bind=True)
    socket.bind(address)
    if address.endswith((":*", ":0")):
        return socket.getsockopt_string(zmq.LAST_ENDPOINT)
    return address


def connect(socket: Any, address: str, keys: ClusterKeys | None) -> None:
    """Connect `socket` to `address` (CURVE client if `keys`; a wildcard host: this host)."""
    address = reachable(address)
    _ipv6(socket, address)
    secure(keys, socket, address, bind=False)
    socket.connect(address)


def _ipv6(socket: Any, address: str) -> None:
    parts = _split(address)
    if parts is not None and ":" in parts[1]:
        socket.setsockopt(zmq.IPV6, 1)  # zmq takes an IPv6 host only when told


def _split(address: str) -> tuple[str, str, str] | None:
    """(scheme, host, port) of a tcp address, else None."""
    scheme, _, rest = address.partition("://")
    if scheme != "tcp":
        return None
    host, _, port = rest.rpartition(":")
    return scheme, host, port


def reachable(address: str) -> str:
    """`address`, its wildcard host (if any) replaced by this host's loopback."""
    parts = _split(address)
    if parts is None or parts[1] not in WILDCARDS:
        return address
    return f"tcp://{'[::1]' if ':' in parts[1] else '127.0.0.1'}:{parts[2]}"


def advertised(address: str, host: str | None = None) -> str:
    """The address to tell other hosts for a socket bound to `address`: a
    wildcard host becomes `host`, else ``$GREENPYLM_ADVERTISE``, else this
    host's primary address (the one its default route leaves from)."""
    parts = _split(address)
    if parts is None or parts[1] not in WILDCARDS:
        return address
    ipv6 = ":" in parts[1]
    host = host or os.environ.get(ADVERTISE_VARIABLE) or primary_address(ipv6)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"tcp://{host}:{parts[2]}"


def primary_address(ipv6: bool = False) -> str:
    """The address this host's default route leaves from (no packet is sent:
    a UDP socket is only connected); its name's address, or loopback, if it
    has no route."""
    family, probe = ((_socket.AF_INET6, "2001:db8::1") if ipv6
                     else (_socket.AF_INET, "192.0.2.1"))  # documentation-only addresses
    with _socket.socket(family, _socket.SOCK_DGRAM) as probe_socket:
        try:
            probe_socket.connect((probe, 9))
            return probe_socket.getsockname()[0]
        except OSError:
            pass
    try:
        return _socket.gethostbyname(_socket.gethostname())
    except OSError:
        return "::1" if ipv6 else "127.0.0.1"
