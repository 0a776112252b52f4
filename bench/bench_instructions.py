"""Instructions per message of a whole job, counted by valgrind's callgrind:
a master, 2 workers and a client in one process over inproc (the
`one_hub_cluster` of bench_one_hub.py), the client's `job` of `--large`
messages minus one of `--small`, so that start-up cancels out.

Rates and CPU times on a shared 2-core machine move with the host's load;
an instruction count does not, so this compares two versions of greenpylm
(`PYTHONPATH=/path/to/other/checkout python bench/bench_instructions.py`).
It needs valgrind (Debian's package) and takes a minute or two.

Run: python bench/bench_instructions.py [--small N] [--large N]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def counting(messages: int) -> subprocess.Popen:
    """A process running the one-hub job of `messages` under callgrind."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from bench_one_hub import one_hub_cluster; one_hub_cluster(int(sys.argv[2]))")
    return subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", code, HERE, str(messages)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


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
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    import greenpylm
    small, large = counting(args.small), counting(args.large)  # one per core
    per_message = (instructions(large) - instructions(small)) / (args.large - args.small)
    print(f"greenpylm from {os.path.dirname(greenpylm.__file__)}")
    print(f"instructions per message, master + 2 workers + client in one process: "
          f"{per_message:,.0f}")


if __name__ == "__main__":
    main()
