"""The peer processes of the benchmarks: `python _roles.py ROLE PORT...`."""
from __future__ import annotations

import sys



def rep_echo(port: str) -> None:
    """The raw baseline's peer: a plain pyzmq REP echo (the fastest a Python peer answers)."""
    import zmq as plain
    sock = plain.Context.instance().socket(plain.REP)
    sock.bind(f"tcp://127.0.0.1:{port}")
    while True:
        sock.send(sock.recv())


def router_echo(port: str) -> None:
    """What a server's client link does without greenpylm: a plain pyzmq ROUTER
    that sends every multipart message back to its sender as it came."""
    import zmq as plain
    sock = plain.Context.instance().socket(plain.ROUTER)
    sock.bind(f"tcp://127.0.0.1:{port}")
    while True:
        sock.send_multipart(sock.recv_multipart())


def pipe_echo(pin: str, pout: str) -> None:
    """The raw one-hop pipe's peer: a plain pyzmq PULL then PUSH, one message per send."""
    import zmq as plain
    ctx = plain.Context.instance()
    pull = ctx.socket(plain.PULL)
    pull.bind(f"tcp://127.0.0.1:{pin}")
    push = ctx.socket(plain.PUSH)
    push.bind(f"tcp://127.0.0.1:{pout}")
    while True:
        push.send(pull.recv())


def server(db: str, pull: str, pub: str) -> None:
    from greenpylm.servers import Server
    Server("bench", f"tcp://127.0.0.1:{db}", f"tcp://127.0.0.1:{pull}",
           f"tcp://127.0.0.1:{pub}", log_level="WARNING").start()


def master(db: str, pull: str, pub: str, wpull: str, wpush: str) -> None:
    from greenpylm.servers import Master
    a = "tcp://127.0.0.1:{}".format
    Master("bench", a(pull), a(pub), a(wpull), a(wpush), a(db), log_level="WARNING").start()


def worker(db: str) -> None:
    import os

    from greenpylm.servers import Worker

    class Who(Worker):
        def who(self, payload: bytes) -> bytes:
            return str(os.getpid()).encode()

    Who(db_address=f"tcp://127.0.0.1:{db}", log_level="WARNING").start()


def master_wide(advertise: str, db: str, pull: str, pub: str, wpull: str, wpush: str) -> None:
    """A master bound on every interface, advertised as `advertise`."""
    from greenpylm.servers import Master
    a = "tcp://0.0.0.0:{}".format
    Master("bench", a(pull), a(pub), a(wpull), a(wpush), a(db), log_level="WARNING",
           advertise=advertise).start()


def worker_at(db: str, pull: str, capacity: str = "256") -> None:
    """A worker of the master whose cache is at `db`, taking work from `pull`."""
    from greenpylm.servers import Worker

    class Echo(Worker):
        def echo(self, payload: bytes) -> bytes:
            return payload

    Echo(db_address=db, pull_address=pull, log_level="WARNING",
         capacity=int(capacity)).start()


def client_job(db: str, count: str) -> None:
    """Runs one job of `count` 16-byte messages after a warm-up; prints its rate."""
    import time

    from greenpylm.clients import Client
    with Client("bench", db, logging_level="WARNING") as client:
        list(client.job("bench.echo", (b"x" * 16 for _ in range(2000)), timeout=60))
        start = time.perf_counter()
        done = sum(1 for _ in client.job("bench.echo", (b"x" * 16 for _ in range(int(count))),
                                         timeout=60))
        print(f"rate {done / (time.perf_counter() - start):.1f}", flush=True)


def worker_load(db: str, work_ms: str) -> None:
    """A worker whose `echo` takes `work_ms` milliseconds (blocking: work elsewhere)."""
    import time

    from greenpylm.servers import Worker
    pause = float(work_ms) / 1000

    class Loaded(Worker):
        def echo(self, payload: bytes) -> bytes:
            if pause:
                time.sleep(pause)
            return payload

    Loaded(db_address=db, log_level="WARNING").start()


def clients_job(db: str, clients: str, count: str) -> None:
    """`clients` clients (greenlets of this process), each running one job of
    `count` messages after a warm-up; prints the wall-clock start and end."""
    import time

    import gevent

    from greenpylm.clients import Client
    made = [Client("bench", db, logging_level="WARNING") for _ in range(int(clients))]
    for client in made:
        list(client.job("bench.echo", (b"x" * 16 for _ in range(50)), timeout=60))
    print("ready", flush=True)
    sys.stdin.readline()  # all client processes start together
    start = time.time()
    jobs = [gevent.spawn(lambda c=c: sum(1 for _ in c.job(
        "bench.echo", (b"x" * 16 for _ in range(int(count))), timeout=120))) for c in made]
    done = sum(job.get() for job in jobs)
    print(f"done {done} {start:.6f} {time.time():.6f}", flush=True)
    for client in made:
        client.close()


def zerorpc_echo(port: str) -> None:
    """The zerorpc peer: a zerorpc server whose `echo` method returns its argument."""
    import zerorpc

    class Echo:
        def echo(self, payload: bytes) -> bytes:
            return payload

    server = zerorpc.Server(Echo())
    server.bind(f"tcp://127.0.0.1:{port}")
    server.run()


def master_capped(db: str, pull: str, pub: str, wpull: str, wpush: str,
                  max_capacity: str) -> None:
    """A master that lets one worker hold `max_capacity` messages (default 4096)."""
    from greenpylm.servers import Master
    a = "tcp://127.0.0.1:{}".format
    Master("bench", a(pull), a(pub), a(wpull), a(wpush), a(db), log_level="WARNING",
           max_worker_capacity=int(max_capacity)).start()


def worker_holding(db: str, capacity: str) -> None:
    """A worker of capacity `capacity` whose `hold` answers only once a line
    comes on its stdin (or stdin is closed): till then it holds everything it
    is handed, and keeps its heartbeats going. `echo` answers at once."""
    import gevent
    from gevent.event import Event
    from gevent.os import make_nonblocking, nb_read

    from greenpylm.servers import Worker
    released = Event()

    def release_on_stdin() -> None:
        make_nonblocking(sys.stdin.fileno())
        nb_read(sys.stdin.fileno(), 1)  # a line, or end of file
        released.set()

    class Holding(Worker):
        def hold(self, payload: bytes) -> bytes:
            released.wait()
            return payload

    gevent.spawn(release_on_stdin)
    Holding(db_address=f"tcp://127.0.0.1:{db}", log_level="WARNING",
            capacity=int(capacity)).start()


def push_queue(port: str, *counts: str) -> None:
    """The raw baseline of messages held in flight: a plain pyzmq PUSH with no
    send limit, connected to `port`, whose listener never accepts (so the zmq
    handshake never ends and every message stays in this process's queue).
    Says "ready"; then for each of `counts`, after a line on stdin, queues
    16-byte messages up to that count and says "queued COUNT"."""
    import zmq as plain
    push = plain.Context.instance().socket(plain.PUSH)
    push.setsockopt(plain.SNDHWM, 0)  # no limit
    push.setsockopt(plain.HANDSHAKE_IVL, 0)  # never give up on the handshake
    push.setsockopt(plain.LINGER, 0)
    push.connect(f"tcp://127.0.0.1:{port}")
    payload, queued = b"x" * 16, 0
    print("ready", flush=True)
    for count in map(int, counts):
        sys.stdin.readline()
        for _ in range(count - queued):
            push.send(payload)
        queued = count
        print(f"queued {queued}", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
