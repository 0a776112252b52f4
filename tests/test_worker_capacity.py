"""A master hands no worker more than its cap, whatever capacity it claims."""
from __future__ import annotations

import gevent
import pytest
import zmq.green as zmq

from greenpylm.window import FIRST_GUESS
from greenpylm.clients import Client
from greenpylm.parts.ledger import MAX_CAPACITY
from greenpylm.servers import Master, Worker
from greenpylm.wire import worker_link as link
from helpers import free_port, tcp

pytestmark = pytest.mark.timeout(60)


class Echo(Worker):
    def echo(self, payload: bytes) -> bytes:
        return payload


def test_a_worker_claiming_a_huge_capacity_gets_the_masters_cap(running):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = running(Master("m", pull, pub, wpull, wpush, db, heartbeat_timeout=1.0))
    greedy = zmq.Context.instance().socket(zmq.DEALER)
    greedy.setsockopt(zmq.LINGER, 0)
    greedy.connect(wpush)
    held = []

    def claim_everything() -> None:
        while True:  # alive (hellos), never answering
            greedy.send_multipart(link.hello(2 ** 32 - 1, "greedy", b"greedy-id"))
            while greedy.poll(100):
                tickets, _ = link.parse_work(greedy.recv_multipart(), 1 << 26)
                held.extend(tickets)
            gevent.sleep(0.2)

    fake = gevent.spawn(claim_everything)
    n = 3 * MAX_CAPACITY
    try:
        with Client("m", db, window=n) as client:
            client.window_bytes = n * FIRST_GUESS  # all n go out before any reply
            results: list = []
            job = gevent.spawn(lambda: results.extend(
                client.job("m.echo", (b"%d" % i for i in range(n)), timeout=30)))
            until(lambda: held, "the greedy worker's first work")
            running(Echo("w", db))
            # the real worker does everything the greedy one was not handed
            until(lambda: len(results) >= n - len(held), "the real worker's share")
            assert len(held) == MAX_CAPACITY  # its cap, though it claimed 4 billion
            assert len(master.outbound_components["WorkerPush"].workers) == 2
            fake.kill()  # silent now: after a heartbeat, what it held goes to the other
            job.get(timeout=30)
            assert sorted(results) == sorted(b"%d" % i for i in range(n))
    finally:
        fake.kill()
        greedy.close(0)


def until(condition, what: str, timeout: float = 30) -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not condition():
            gevent.sleep(0.01)
