"""One process, one hub: Master + 2 workers + client over inproc://, next to a
raw zmq.green inproc echo pipe (PUSH -> echo greenlet -> PULL) in the same process.

Run: python bench/bench_one_hub.py [--stream N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import gevent
import zmq.green as zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import PAYLOAD, best, pipe_rate, report  # noqa: E402


def raw_inproc_pipe(n: int) -> float:
    ctx = zmq.Context.instance()
    tag = time.perf_counter_ns()
    pull_in = ctx.socket(zmq.PULL)
    pull_in.bind(f"inproc://raw-in-{tag}")
    push_out = ctx.socket(zmq.PUSH)
    push_out.bind(f"inproc://raw-out-{tag}")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"inproc://raw-in-{tag}")
    pull = ctx.socket(zmq.PULL)
    pull.connect(f"inproc://raw-out-{tag}")

    def echo() -> None:
        while True:
            push_out.send(pull_in.recv())

    echoer = gevent.spawn(echo)
    rate = pipe_rate(push, pull, n)
    echoer.kill()
    for s in (pull_in, push_out, push, pull):
        s.close(0)
    return rate


def one_hub_cluster(n: int) -> float:
    from greenpylm.runner import Cluster
    from greenpylm.servers import Master, Worker
    with Cluster() as cluster:
        master = Master("bench", "inproc://pull", "inproc://pub", "inproc://wpull",
                        "inproc://wpush", "inproc://db", log_level="WARNING")
        workers = [Worker(f"w{i}", "inproc://db", log_level="WARNING") for i in range(2)]
        cluster.start(master, *workers)
        client = cluster.client("bench", "inproc://db", logging_level="WARNING")
        client.eval("bench.echo", PAYLOAD, timeout=10)
        start = time.perf_counter()
        count = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(n))))
        rate = count / (time.perf_counter() - start)
    assert count == n
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw = best(raw_inproc_pipe, args.stream, args.repeat)
    ours = best(one_hub_cluster, args.stream, args.repeat)
    report([("Master + 2 workers + client, one process, inproc", ours, raw)])


if __name__ == "__main__":
    main()
