"""CURVE from the cluster's one secret: every tcp and ipc link encrypted, every peer a member.

The key that signs shipped code (`key=`, or ``$GREENPYLM_KEY``) yields two
Curve25519 key pairs by HMAC-SHA256 under distinct labels: the servers'
(every bound socket is a CURVE server with it) and the members' (every
connecting socket is a CURVE client with it). A ZAP handler, a greenlet of
the process's hub, admits only peers that present the members' public key.
An outsider cannot connect (it knows neither public key), nor read or
inject anything. ``inproc://`` links stay plain: they never leave the
process. Without an explicit key there is no CURVE: each process would
draw a key of its own, and then no two could talk.

Per-member keys, so that one member can be revoked alone: each process
connects with a certificate of its own (``$GREENPYLM_CERTIFICATE``, a
``.key_secret`` file of zmq's certificate format), and servers admit the
public certificates in a directory (``$GREENPYLM_MEMBERS``), read again
whenever it changes; the shared members' key is then refused.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import zmq
import zmq.green
import zmq.utils.z85 as z85
from zmq.auth.certs import load_certificate, load_certificates

from ..log import Occurrences, get_logger
from .errors import GreenpylmError

KEY_VARIABLE = "GREENPYLM_KEY"
INSECURE_VARIABLE = "GREENPYLM_INSECURE"
CERTIFICATE_VARIABLE = "GREENPYLM_CERTIFICATE"
MEMBERS_VARIABLE = "GREENPYLM_MEMBERS"
ZAP_ADDRESS = "inproc://zeromq.zap.01"
ZAP_DOMAIN = b"greenpylm"
HANDSHAKE_FAILURES = {
    int(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL): "its key is not this cluster's",
    int(zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL): "one side has a key and the other none",
    int(zmq.EVENT_HANDSHAKE_FAILED_AUTH): "it refused this member's key",
}


class AuthenticationFailed(GreenpylmError, ConnectionRefusedError):
    """A peer refused the handshake: the two sides do not share the cluster's key."""


class InsecureBind(GreenpylmError, ValueError):
    """A server would listen beyond this host without a key to secure it."""


def explicit_key(key: bytes | str | None = None) -> bytes | None:
    """The cluster's key if one is set (`key`, else ``$GREENPYLM_KEY``), else None."""
    if key is None:
        key = os.environ.get(KEY_VARIABLE) or None
    if key is None:
        return None
    return key.encode() if isinstance(key, str) else bytes(key)


@dataclass(frozen=True)
class ClusterKeys:
    """The CURVE key pairs of a cluster (z85 text), derived from its secret.

    `member_public`/`member_secret` are this process's own certificate when
    it has one; `members` is the directory of the public certificates that
    bound sockets admit (None: the members' key derived from the secret).
    """

    server_public: bytes
    server_secret: bytes
    member_public: bytes
    member_secret: bytes
    members: str | None = None

    @classmethod
    def derive(cls, key: bytes, certificate: str | None = None,
               members: str | None = None) -> "ClusterKeys":
        def pair(label: bytes) -> tuple[bytes, bytes]:
            secret = z85.encode(hmac.digest(key, label, "sha256"))
            return zmq.curve_public(secret), secret
        mine = pair(b"greenpylm curve member 1")
        if certificate:
            mine = own_certificate(certificate)
        if members and not Path(members).is_dir():
            raise FileNotFoundError(f"{MEMBERS_VARIABLE}: {members} is not a directory of "
                                    f"members' public certificates")
        return cls(*pair(b"greenpylm curve server 1"), *mine, members or None)

    def secure(self, socket: Any, address: str, bind: bool) -> None:
        """Make `socket` a CURVE server (bound) or client (connecting), unless inproc."""
        if address.startswith("inproc://"):
            return
        if bind:
            socket.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
            socket.setsockopt(zmq.CURVE_SERVER, 1)
            socket.setsockopt(zmq.CURVE_SECRETKEY, self.server_secret)
        else:
            socket.setsockopt(zmq.CURVE_SERVERKEY, self.server_public)
            socket.setsockopt(zmq.CURVE_PUBLICKEY, self.member_public)
            socket.setsockopt(zmq.CURVE_SECRETKEY, self.member_secret)


def own_certificate(path: str) -> tuple[bytes, bytes]:
    """The key pair of a ``.key_secret`` certificate file (zmq's format)."""
    public, secret = load_certificate(path)
    if not secret:
        raise ValueError(f"{CERTIFICATE_VARIABLE}: {path} holds no secret key; give the "
                         f".key_secret file of this member's certificate")
    return public, secret


def cluster_keys(key: bytes | str | None = None) -> ClusterKeys | None:
    """The cluster's CURVE keys, or None when no key is set (plain sockets);
    per-member certificates come from ``$GREENPYLM_CERTIFICATE`` and
    ``$GREENPYLM_MEMBERS``."""
    secret = explicit_key(key)
    certificate = os.environ.get(CERTIFICATE_VARIABLE) or None
    members = os.environ.get(MEMBERS_VARIABLE) or None
    if secret is None:
        if certificate or members:
            raise ValueError(f"${CERTIFICATE_VARIABLE} and ${MEMBERS_VARIABLE} need the "
                             f"cluster's secret too: set key=... or ${KEY_VARIABLE}")
        return None
    return ClusterKeys.derive(secret, certificate, members)


def secure(keys: ClusterKeys | None, socket: Any, address: str, bind: bool) -> None:
    """`ClusterKeys.secure`, when the cluster has keys."""
    if keys is not None:
        keys.secure(socket, address, bind)


def is_local(address: str) -> bool:
    """Whether `address` can be reached from this host only (inproc, ipc, loopback)."""
    scheme, _, rest = address.partition("://")
    if scheme in ("inproc", "ipc"):
        return True
    host = rest.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a wildcard (*), an interface name, a host name


def check_bind(address: str, keys: ClusterKeys | None, insecure: bool) -> None:
    """Refuse to listen beyond this host without a key (protected mode)."""
    if keys is None and not insecure and not os.environ.get(INSECURE_VARIABLE) \
            and not is_local(address):
        raise InsecureBind(
            f"refusing to listen on {address} without a key: anyone who reaches it could "
            f"read and send anything. Give every process of the cluster the same secret "
            f"(key=... or ${KEY_VARIABLE}), or opt out with insecure=True "
            f"(${INSECURE_VARIABLE}=1)")


class MemberDirectory:
    """The public keys of the certificates in a directory, read again when a
    file in it is added, removed or rewritten (so that revoking is deleting)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._seen: tuple = ()
        self._keys: set[bytes] = set()

    def keys(self) -> set[bytes]:
        """The members' public keys (raw bytes); OSError or ValueError if unreadable."""
        entries = []
        for entry in os.scandir(self.path):
            stat = entry.stat()
            entries.append((entry.name, stat.st_mtime_ns, stat.st_size))
        seen = tuple(sorted(entries))
        if seen != self._seen:
            self._keys, self._seen = set(), ()  # unreadable: nobody, until it is fixed
            self._keys = {z85.decode(public) for public in load_certificates(self.path)}
            self._seen = seen
        return self._keys


class ZapHandler:
    """Admits to this process's CURVE servers only members of the cluster.

    One greenlet per zmq context, answering libzmq's ZAP requests on
    ``inproc://zeromq.zap.01`` (RFC 27); refusals are logged once per kind.
    Members present the members' key derived from a cluster secret, or a
    certificate found in a members' directory.
    """

    _running: dict[int, "ZapHandler"] = {}

    def __init__(self, context: Any) -> None:
        self.members: set[bytes] = set()  # the members' public keys (one per cluster key)
        self.directories: dict[str, MemberDirectory] = {}
        self.problems = Occurrences(get_logger("greenpylm", "zap"))
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(ZAP_ADDRESS)
        self.greenlet = gevent.spawn(self.run)

    @classmethod
    def ensure(cls, context: Any, keys: ClusterKeys) -> None:
        """Start the handler of `context` (once), and admit the members of `keys`."""
        handler = cls._running.get(id(context))
        if handler is None:
            handler = cls._running[id(context)] = cls(context)
        if keys.members:
            handler.directories.setdefault(keys.members, MemberDirectory(keys.members))
        else:
            handler.members.add(z85.decode(keys.member_public))

    def admits(self, public: bytes) -> bool:
        if public in self.members:
            return True
        for directory in self.directories.values():
            try:
                if public in directory.keys():
                    return True
            except (OSError, ValueError) as exc:
                self.problems.note("refused.directory", "cannot read the members' "
                                   "certificates in {}: {}", directory.path, exc, level="ERROR")
        return False

    def run(self) -> None:
        socket = self.socket
        while True:
            frames = socket.recv_multipart()
            envelope, request = frames[:2], frames[2:]
            if len(request) < 6:
                continue  # not a ZAP request
            version, request_id, _domain, address, _identity, mechanism = request[:6]
            member = mechanism == b"CURVE" and len(request) > 6 and self.admits(request[6])
            if not member:
                self.problems.note("refused.peer", "refused a peer at {} that is not a member "
                                   "of this cluster (mechanism {})", address.decode(errors="replace"),
                                   mechanism.decode(errors="replace"), level="WARNING")
            code, text = (b"200", b"OK") if member else (b"400", b"not a member")
            socket.send_multipart(envelope + [version, request_id, code, text, b"", b""])
