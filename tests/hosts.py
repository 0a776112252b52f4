"""Hosts for multi-host tests: network namespaces joined by a bridge (needs root).

Each `Host` is a namespace with one veth link to a bridge in the test's own
namespace, an address on 10.77.x.0/24 and a default route through the
bridge, so that greenpylm finds its primary address as a real host would.
`cut` detaches a host's link from the bridge: both ends stay up and every
packet is lost, as when a cable is cut or a switch dies (no RST, no error);
`heal` attaches it again; `crash_and_reboot` loses a host with its kernel's
connections. `Network.remove` tears everything down.
"""
from __future__ import annotations

import itertools
import os
import subprocess

from helpers import NetNamespace

_networks = itertools.count(1)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class Host:
    """One namespace on the bridge, reachable at `address`."""

    def __init__(self, network: "Network", number: int) -> None:
        self.network = network
        self.address = f"{network.prefix}.{number}"
        self.link = f"gpv{network.number}h{number}"  # the bridge's end of its cable
        self.namespace = self._boot()

    def _boot(self) -> NetNamespace:
        namespace = NetNamespace()
        ip("link", "add", self.link, "type", "veth", "peer", "name", "eth0",
           "netns", namespace.name)
        ip("link", "set", self.link, "master", self.network.bridge, "up")
        inside = ["ip", "netns", "exec", namespace.name, "ip"]
        number = int(self.address.rpartition(".")[2])  # the same card after a reboot:
        mac = f"02:77:{self.network.number >> 8:02x}:{self.network.number & 255:02x}:00:{number:02x}"
        subprocess.run([*inside, "link", "set", "eth0", "address", mac], check=True)
        subprocess.run([*inside, "addr", "add", f"{self.address}/24", "dev", "eth0"], check=True)
        subprocess.run([*inside, "link", "set", "eth0", "up"], check=True)
        subprocess.run([*inside, "route", "add", "default", "via", self.network.gateway],
                       check=True)
        return namespace

    def command(self, args: list[str]) -> list[str]:
        """`args` run on this host (what `Proc(netns=...)` asks)."""
        return self.namespace.command(args)

    def tcp(self, port: int | str) -> str:
        return f"tcp://{self.address}:{port}"

    def cut(self) -> None:
        """Lose every packet to and from this host (its link stays up)."""
        ip("link", "set", self.link, "nomaster")

    def heal(self) -> None:
        ip("link", "set", self.link, "master", self.network.bridge)

    def crash_and_reboot(self) -> None:
        """The host dies with everything on it, its connections included (it
        never says goodbye: nothing reaches its peers), and boots again, cut
        off until `heal`: same address, nothing running."""
        self.cut()
        self.remove()
        self.namespace = self._boot()
        self.cut()

    def remove(self) -> None:
        self.namespace.delete()  # its processes, and its end of the veth pair
        subprocess.run(["ip", "link", "delete", self.link], capture_output=True)


class Network:
    """A bridge and the hosts on it."""

    def __init__(self) -> None:
        self.number = (os.getpid() % 200) * 10 + next(_networks) % 10
        self.prefix = f"10.77.{self.number % 250}"
        self.gateway = f"{self.prefix}.1"
        self.bridge = f"gpbr{self.number}"
        self.hosts: list[Host] = []
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def host(self) -> Host:
        host = Host(self, len(self.hosts) + 10)
        self.hosts.append(host)
        return host

    def remove(self) -> None:
        for host in self.hosts:
            host.remove()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
