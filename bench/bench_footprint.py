"""What a user needs to size a cluster, each figure next to a raw baseline
measured in the same run, as ratios:

1. bytes on the wire per message of a `Client.job` of 16-byte payloads
   through a `Master` and 2 worker processes, on each link (client -> master,
   master -> client, master -> workers, workers -> master), next to the raw
   one-hop pipe's bytes per message per hop (zmq.green PUSH -> plain pyzmq
   PULL-then-PUSH echo process -> zmq.green PULL);
2. the master's memory per connected client (each made one eval, so each has
   a lane), next to a plain pyzmq ROUTER echo's memory per DEALER connection;
3. the master's memory per in-flight message (handed to a worker that does
   not answer yet), next to what a plain pyzmq PUSH queue holds per message.

Bytes are the kernel's own per-connection counters of TCP payload
(``bytes_sent``, ``bytes_received``; `ss -tinp`, iproute2), read before and
after the job for the connections one process (by its pid) has to the
master's ports: exact, only this run's connections, and no hop of its own.
A counting forwarder would not do here: a client finds its lane at the
address the master advertises (the master's own port), so it would bypass a
forwarder on another port; and a forwarder's latency changes how full the
batches greenpylm sends are. Memory is VmRSS, from /proc/PID/status. The
cluster's key is unset (plain sockets) unless --secured is given.

Run: python bench/bench_footprint.py [--messages N] [--clients 200,1000]
         [--in-flight 10000,50000] [--only wire|clients|in-flight] [--secured]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
from typing import Any, Callable

import gevent
import gevent.pool
import zmq.green as zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _measure import rss_kib, traffic, traffic_between  # noqa: E402
from _util import PAYLOAD, ROLES, free_port, secured, spawn_role, stop_all  # noqa: E402

MASTER_PORTS = 5  # db, pull, pub, worker pull, worker push
CONNECTING = 32  # clients (or raw DEALERs) connecting at once
#: zmq sockets of one client: its cache client's DEALER and monitor pair, its lane
SOCKETS_PER_CLIENT = 4
WAIT = 60.0  # seconds a wait on an observable may take before the run fails


def master_stats(cache: Any) -> dict:
    """The master's statistics, from its cache service."""
    return json.loads(cache.request("stats", "", timeout=10))


def wait_for(what: str, ready: Callable[[], bool]) -> None:
    """Poll `ready` (an observable: the master's statistics) until it holds."""
    deadline = time.monotonic() + WAIT
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT:g} s for {what}")
        gevent.sleep(0.05)


def start_master(cleanup: contextlib.ExitStack, *role: str | int) -> tuple[str, list[int],
                                                                        list[subprocess.Popen]]:
    """A master process (`role`: "master", or "master_capped" and its cap): its
    db address, its ports, and a list of processes (it, then those added),
    all stopped on `cleanup`."""
    name, *extra = role
    ports = [free_port() for _ in range(MASTER_PORTS)]
    procs: list[subprocess.Popen] = []
    cleanup.callback(stop_all, procs)
    procs.append(spawn_role(name, *ports, *extra))
    return f"tcp://127.0.0.1:{ports[0]}", ports, procs


def stats_client(cleanup: contextlib.ExitStack, db: str, context: Any) -> Any:
    """A cache client of the master at `db`, for its statistics, closed on `cleanup`."""
    from greenpylm.cache_client import CacheClient
    from greenpylm.wire.curve import cluster_keys
    cache = CacheClient("bench", db, context, "footprint", keys=cluster_keys())
    cleanup.callback(cache.close)
    return cache


def spawn_piped(role: str, *args: str | int) -> subprocess.Popen:
    """A role process whose stdin and stdout are pipes (lines to and from it)."""
    return subprocess.Popen([sys.executable, ROLES, role, *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def advance(proc: subprocess.Popen, expect: str) -> str:
    """Tell `proc` to go on (a line on its stdin); its answer, which must start with `expect`."""
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    assert line.startswith(expect), line
    return line


def allow_many_files() -> None:
    """Raise this process's limit of open files to its hard limit (inherited by
    the processes it starts): a master with a thousand clients needs thousands."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def many_contexts_allowed(sockets: int) -> Any:
    """A zmq.green context that may open `sockets` sockets (the default is 1023)."""
    context = zmq.Context()
    context.set(zmq.MAX_SOCKETS, sockets + 64)
    return context


def close_all(clients: list) -> None:
    for client in clients:
        client.close()


def connect_all(count: int, connect: Callable[[], Any]) -> list:
    """`count` results of `connect()`, `CONNECTING` at once."""
    return gevent.pool.Pool(CONNECTING).map(lambda _: connect(), range(count))


# -- 1. bytes on the wire -----------------------------------------------------
def raw_pipe_bytes(messages: int) -> tuple[float, float]:
    """Bytes per message of the raw one-hop pipe: (into the echo, out of it)."""
    pin, pout = free_port(), free_port()
    with contextlib.ExitStack() as cleanup:
        procs: list[subprocess.Popen] = []
        cleanup.callback(stop_all, procs)
        procs.append(spawn_role("pipe_echo", pin, pout))
        context = zmq.Context.instance()
        push = cleanup.enter_context(context.socket(zmq.PUSH))
        pull = cleanup.enter_context(context.socket(zmq.PULL))
        for sock in (push, pull):
            sock.setsockopt(zmq.LINGER, 0)
        push.connect(f"tcp://127.0.0.1:{pin}")
        pull.connect(f"tcp://127.0.0.1:{pout}")
        push.send(PAYLOAD)
        pull.recv()  # both connections are up
        me = os.getpid()
        before = traffic(me, [pin]), traffic(me, [pout])
        sender = gevent.spawn(lambda: [push.send(PAYLOAD) for _ in range(messages)])
        for _ in range(messages):
            pull.recv()
        sender.get()
        into, _ = traffic_between(before[0], traffic(me, [pin]))
        _, out = traffic_between(before[1], traffic(me, [pout]))
    return into / messages, out / messages


def master_link_bytes(messages: int) -> dict[str, float]:
    """Bytes per message on each link of a job through a Master + 2 workers."""
    from greenpylm.clients import Client
    with contextlib.ExitStack() as cleanup:
        db, ports, procs = start_master(cleanup, "master")
        procs += [spawn_role("worker", ports[0]) for _ in range(2)]
        client = Client("bench", db, logging_level="WARNING")
        cleanup.callback(client.close)
        seen: set = set()
        while len(seen) < 2:  # warm up until both workers answer
            seen.update(client.job("bench.who", (PAYLOAD for _ in range(200)), timeout=30))
        peers = {"client": [os.getpid()], "workers": [p.pid for p in procs[1:]]}
        before = {name: [traffic(pid, ports) for pid in pids] for name, pids in peers.items()}
        done = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(messages)),
                                         timeout=60))
        assert done == messages, done
        moved = {name: [traffic_between(b, traffic(pid, ports))
                        for b, pid in zip(before[name], pids)] for name, pids in peers.items()}
    return {"client -> master": sum(s for s, _ in moved["client"]) / messages,
            "master -> client": sum(r for _, r in moved["client"]) / messages,
            "master -> workers": sum(r for _, r in moved["workers"]) / messages,
            "workers -> master": sum(s for s, _ in moved["workers"]) / messages}


def report_wire(messages: int, links: dict[str, float], raw: tuple[float, float]) -> None:
    print(f"1. Bytes on the wire per message: a job of {messages:,} {len(PAYLOAD)}-byte "
          "payloads through a Master + 2 worker processes")
    print("   (TCP payload the kernel counted on every connection of each peer to the "
          "master: its cache link and heartbeats included)")
    print(f"{'link':<26} {'bytes/msg':>10} {'raw bytes/msg/hop':>18} {'ratio':>7}")
    for name, per_message in links.items():
        towards_workers = name in ("client -> master", "master -> workers")
        hop = raw[0] if towards_workers else raw[1]  # requests vs the hop into the echo
        print(f"{name:<26} {per_message:>10.1f} {hop:>18.1f} {per_message / hop:>7.2f}")
    print(f"raw one-hop pipe: {raw[0]:.1f} bytes/msg into the echo, {raw[1]:.1f} out of it "
          "(requests are compared with the first, answers with the second)")


def wire(messages: int) -> None:
    raw = raw_pipe_bytes(messages)
    report_wire(messages, master_link_bytes(messages), raw)


# -- 2. memory per client -----------------------------------------------------
def master_kib_per_client(steps: list[int]) -> list[tuple[int, float, float]]:
    """(clients, master KiB per client, master lanes per client) at each of
    `steps` connected clients, each of which made one eval."""
    from greenpylm.clients import Client
    with contextlib.ExitStack() as cleanup:
        db, ports, procs = start_master(cleanup, "master")
        procs.append(spawn_role("worker", ports[0]))
        context = many_contexts_allowed(SOCKETS_PER_CLIENT * steps[-1])
        cleanup.callback(context.destroy, 0)
        cache = stats_client(cleanup, db, context)
        clients: list = []
        cleanup.callback(close_all, clients)

        def connect() -> Any:
            client = Client("bench", db, logging_level="WARNING", context=context)
            clients.append(client)
            client.eval("bench.echo", PAYLOAD, timeout=WAIT)
            return client

        connect()  # one first client pays what is paid once (and the worker has joined)
        master_stats(cache)  # the stats client's own lane is open before the base
        base, base_lanes = rss_kib(procs[0].pid), master_stats(cache)["clients"]
        rows = []
        for count in steps:
            connect_all(count - (len(clients) - 1), connect)
            lanes = master_stats(cache)["clients"] - base_lanes
            rows.append((count, (rss_kib(procs[0].pid) - base) / count, lanes / count))
    return rows


def raw_kib_per_connection(steps: list[int]) -> list[float]:
    """A plain ROUTER echo's KiB per DEALER connection (each sent one message)."""
    port = free_port()
    with contextlib.ExitStack() as cleanup:
        procs: list[subprocess.Popen] = []
        cleanup.callback(stop_all, procs)
        procs.append(spawn_role("router_echo", port))
        context = many_contexts_allowed(steps[-1])
        cleanup.callback(context.destroy, 0)

        def connect() -> Any:
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(f"tcp://127.0.0.1:{port}")
            dealer.send(PAYLOAD)
            dealer.recv()
            return dealer

        made = 1
        connect()  # as for the master: the first one pays what is paid once
        base, rows = rss_kib(procs[0].pid), []
        for count in steps:
            connect_all(count - (made - 1), connect)
            made = count + 1
            rows.append((rss_kib(procs[0].pid) - base) / count)
    return rows


def report_clients(ours: list[tuple[int, float, float]], raw: list[float]) -> None:
    print("2. Master memory per connected client (each made one eval): RSS delta / clients")
    print(f"{'clients':>8} {'lanes/client':>13} {'master KiB/client':>18} "
          f"{'raw ROUTER KiB/conn':>20} {'ratio':>7} {'per conn':>9}")
    for (count, kib, lanes), raw_kib in zip(ours, raw):
        if raw_kib > 0:
            ratio, per_connection = f"{kib / raw_kib:>7.2f}", f"{kib / lanes / raw_kib:>9.2f}"
        else:
            ratio, per_connection = f"{'-':>7}", f"{'-':>9}"
        print(f"{count:>8,} {lanes:>13.2f} {kib:>18.1f} {raw_kib:>20.1f} {ratio} "
              f"{per_connection}")
    print("   (a greenpylm client keeps two connections to the master, each with a lane: "
          "its cache client's and its calls'.")
    print("   'per conn': the master's KiB per connection vs the raw ROUTER's)")


def clients(steps: list[int]) -> None:
    report_clients(master_kib_per_client(steps), raw_kib_per_connection(steps))


# -- 3. memory per in-flight message -------------------------------------------
def master_bytes_in_flight(steps: list[int]) -> list[tuple[int, float]]:
    """(messages in flight, master bytes per in-flight message) at each of
    `steps` messages held by a worker that does not answer yet."""
    from greenpylm.clients import Client
    most = steps[-1]
    jobs: list[gevent.Greenlet] = []
    with contextlib.ExitStack() as cleanup:
        db, ports, procs = start_master(cleanup, "master_capped", most)
        holder = spawn_piped("worker_holding", ports[0], most)
        procs.append(holder)
        cleanup.callback(gevent.killall, jobs)
        # (callbacks run last first) a worker left holding would stop only after a delay
        cleanup.callback(holder.stdin.close)
        client = Client("bench", db, logging_level="WARNING", window=most)
        client.window_bytes = 1 << 50  # no reply comes to tell a result's size: no byte bound
        cleanup.callback(client.close)
        cache = stats_client(cleanup, db, zmq.Context.instance())
        client.eval("bench.echo", PAYLOAD, timeout=WAIT)  # the worker has joined
        list(client.job("bench.echo", (PAYLOAD for _ in range(256)), timeout=WAIT))
        master_stats(cache)
        base = rss_kib(procs[0].pid)
        rows, sent = [], 0
        for count in steps:
            held = (PAYLOAD for _ in range(count - sent))
            jobs.append(gevent.spawn(lambda h=held: sum(1 for _ in client.job("bench.hold", h))))
            sent = count

            def all_held(count: int = count) -> bool:
                stats = master_stats(cache)
                return stats["in_flight"] >= count and not stats["waiting"]

            wait_for(f"{count:,} messages in flight", all_held)
            rows.append((count, (rss_kib(procs[0].pid) - base) * 1024 / count))
        holder.stdin.close()  # the worker answers them all now
        assert sum(job.get(timeout=WAIT) for job in jobs) == most
    return rows


def raw_bytes_queued(steps: list[int]) -> list[float]:
    """Bytes per message a plain pyzmq PUSH process holds, `steps` queued."""
    with contextlib.ExitStack() as cleanup:
        listener = cleanup.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # never accepted: the PUSH's handshake never ends
        procs: list[subprocess.Popen] = []
        cleanup.callback(stop_all, procs)
        procs.append(spawn_piped("push_queue", listener.getsockname()[1], *steps))
        assert procs[0].stdout.readline().strip() == "ready"
        base, rows = rss_kib(procs[0].pid), []
        for count in steps:
            advance(procs[0], f"queued {count}")
            rows.append((rss_kib(procs[0].pid) - base) * 1024 / count)
    return rows


def report_in_flight(ours: list[tuple[int, float]], raw: list[float]) -> None:
    print("3. Master memory per in-flight message (handed to a worker that does not "
          "answer yet): RSS delta / messages")
    print(f"{'in flight':>10} {'master bytes/msg':>17} {'raw PUSH queue bytes/msg':>25} "
          f"{'ratio':>7}")
    for (count, per_message), raw_bytes in zip(ours, raw):
        ratio = f"{per_message / raw_bytes:>7.2f}" if raw_bytes > 0 else f"{'-':>7}"
        print(f"{count:>10,} {per_message:>17.0f} {raw_bytes:>25.0f} {ratio}")
    print("   (the master keeps each message it hands out, decoded, till it is answered, to "
          "hand it to another worker if this one is lost;")
    print("   raw: a plain pyzmq PUSH's own queue of 16-byte messages, its peer never "
          "reading)")


def in_flight(steps: list[int]) -> None:
    report_in_flight(master_bytes_in_flight(steps), raw_bytes_queued(steps))


# -- the run ------------------------------------------------------------------
def counts(text: str) -> list[int]:
    """"200,1000" -> [200, 1000] (sorted: each step adds to the one before)."""
    steps = sorted({int(part) for part in text.split(",") if part.strip()})
    if not steps or steps[0] < 1:
        raise argparse.ArgumentTypeError(f"positive counts, comma-separated, not {text!r}")
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000,
                        help="messages of the job whose bytes are counted")
    parser.add_argument("--clients", type=counts, default=[200, 1000],
                        help="connected clients at which the master's RSS is read")
    parser.add_argument("--in-flight", type=counts, default=[10_000, 50_000],
                        help="messages in flight at which the master's RSS is read")
    parser.add_argument("--only", choices=["wire", "clients", "in-flight"],
                        help="run one part only")
    parser.add_argument("--secured", action="store_true",
                        help="greenpylm with the cluster's key set (CURVE on every link); "
                             "the raw baselines stay plain")
    args = parser.parse_args()
    allow_many_files()
    print("cluster key: " + ("set (CURVE on every greenpylm link; the raw baselines are "
                             "plain)" if args.secured else "unset (plain sockets)"))
    parts = {"wire": lambda: wire(args.messages), "clients": lambda: clients(args.clients),
             "in-flight": lambda: in_flight(args.in_flight)}
    with secured(args.secured):
        for name, run in parts.items():
            if args.only in (None, name):
                run()


if __name__ == "__main__":
    main()
