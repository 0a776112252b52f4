"""A TCP forwarder that adds latency: `python _delay.py MS UPSTREAM_HOST PORT...`.

For each PORT it listens on 0.0.0.0:PORT and forwards every connection to
UPSTREAM_HOST:PORT, holding each chunk MS milliseconds in each direction
(order kept): the added one-way latency of a wide-area link, for machines
whose kernel has no ``tc netem``. It costs CPU of its own (a Python copy of
every byte), which a run with MS=0 measures.
"""
from __future__ import annotations

import sys
import time

import gevent
from gevent import socket
from gevent.queue import Queue
from gevent.server import StreamServer


def pump(source: socket.socket, sink: socket.socket, delay: float) -> None:
    """Copy `source` to `sink`, each chunk `delay` seconds late."""
    held: Queue = Queue()

    def send() -> None:
        while True:
            due, data = held.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
            sink.sendall(data)
        sink.close()

    sender = gevent.spawn(send)
    try:
        while True:
            data = source.recv(1 << 16)
            if not data:
                break
            held.put((time.monotonic() + delay, data))
    except OSError:
        pass
    finally:
        held.put((0.0, None))
        sender.join()


def forward(upstream: tuple[str, int], delay: float):
    def handle(client: socket.socket, _address) -> None:
        try:
            server = socket.create_connection(upstream)
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        gevent.joinall([gevent.spawn(pump, client, server, delay),
                        gevent.spawn(pump, server, client, delay)])
    return handle


if __name__ == "__main__":
    ms, host, *ports = sys.argv[1:]
    servers = [StreamServer(("0.0.0.0", int(port)), forward((host, int(port)), float(ms) / 1000))
               for port in ports]
    for server in servers:
        server.start()
    print("forwarding", flush=True)
    gevent.wait()
