"""Instructions per message of a whole job, counted by valgrind's callgrind:
a master, 2 workers and a client in one process over inproc (the
`one_hub_cluster` of bench_one_hub.py), the client's `job` of `--large`
messages minus one of `--small`, so that start-up cancels out.

Rates and CPU times on a shared 2-core machine move with the host's load;
an instruction count does not, so this compares two versions of greenpylm
(`PYTHONPATH=/path/to/other/checkout python bench/bench_instructions.py`).
With `--process master|worker|server|chained`, one process of a cluster of
real processes over tcp runs under callgrind instead (a master with 2
workers, a `Server`, or the middle one of 3 chained servers applying 3
shipped lambdas, signed), while a client outside it makes the jobs: the
instructions that process spends per message.

It needs valgrind (Debian's package) and takes a minute or two.

Run: python bench/bench_instructions.py [--small N] [--large N] [--process P]
"""
from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _util import (CHAIN_KEY, CHAIN_STEPS, PAYLOAD, ROLES, chain_of_three,  # noqa: E402
                   free_port, stop_all)
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


CALLGRIND = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]


def counting(messages: int) -> subprocess.Popen:
    """A process running the one-hub job of `messages` under callgrind."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from bench_one_hub import one_hub_cluster; one_hub_cluster(int(sys.argv[2]))")
    return subprocess.Popen(CALLGRIND + [sys.executable, "-c", code, HERE, str(messages)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def counting_process(process: str, messages: int) -> int:
    """The instructions of the `process` of a cluster through a job of `messages`
    made by a client outside it: a `Server`, or a master with 2 workers, or the
    only worker of a master (which handles every message)."""
    from greenpylm.clients import Client
    ports = [free_port() for _ in range(5)]
    roles = {"server": [("server", ports[:3])],
             "master": [("master", ports), ("worker", ports[:1]), ("worker", ports[:1])],
             "worker": [("master", ports), ("worker", ports[:1])]}[process]
    procs = [subprocess.Popen((CALLGRIND if role == process else [])
                              + [sys.executable, ROLES, role, *map(str, args)],
                              stderr=subprocess.PIPE if role == process else None, text=True)
             for role, args in roles]
    counted = procs[[role for role, _ in roles].index(process)]
    try:
        with Client("bench", f"tcp://127.0.0.1:{ports[0]}") as client:
            list(client.job("bench.echo", (PAYLOAD for _ in range(50)), timeout=300))
            done = sum(1 for _ in client.job("bench.echo", (PAYLOAD for _ in range(messages)),
                                             timeout=600))
        assert done == messages, done
        for proc in procs:
            proc.send_signal(signal.SIGTERM)  # a clean stop: callgrind writes its totals
        return instructions(counted)
    finally:
        stop_all(procs)


def counting_chain(messages: int) -> int:
    """The instructions of the middle server of 3 chained servers (key set,
    3 shipped lambdas) through a job of `messages` from a `LoopClient`."""
    from greenpylm.chained.client import LoopClient
    first, back, procs = chain_of_three("b", CALLGRIND)
    steps = CHAIN_STEPS
    try:
        with LoopClient(back, first, key=CHAIN_KEY, logging_level="WARNING") as client:
            client.eval(steps, 1, timeout=300)
            done = sum(1 for _ in client.job(steps, range(messages), timeout=600))
        assert done == messages, done
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        return instructions(procs[1])
    finally:
        stop_all(procs)


def instructions(proc: subprocess.Popen) -> int:
    """The instructions callgrind counted in `proc` (which it waits for)."""
    _, err = proc.communicate()
    found = COLLECTED.search(err)
    if proc.returncode or found is None:
        raise RuntimeError(f"callgrind run failed ({proc.returncode}):\n{err[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=7000)
    parser.add_argument("--process", choices=("master", "worker", "server", "chained"),
                        help="count one process of a cluster over tcp instead")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    import greenpylm
    print(f"greenpylm from {os.path.dirname(greenpylm.__file__)}")
    if args.process:
        count = counting_chain if args.process == "chained" else \
            functools.partial(counting_process, args.process)
        small, large = (count(n) for n in (args.small, args.large))
        per_message = (large - small) / (args.large - args.small)
        print(f"instructions per message, the {args.process} process: {per_message:,.0f}")
        return
    small, large = counting(args.small), counting(args.large)  # one per core
    per_message = (instructions(large) - instructions(small)) / (args.large - args.small)
    print(f"instructions per message, master + 2 workers + client in one process: "
          f"{per_message:,.0f}")


if __name__ == "__main__":
    main()
