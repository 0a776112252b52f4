"""A LoopClient run as __main__ by the chained tests: prints one JSON line per check.

    python tests/chained_client_for_tests.py all|many N|progress N|evil PATH, then FIRST_PULL LAST_PUSH
"""
from __future__ import annotations

import collections
import functools
import json
import sys

from greenpylm import CallTimeout, RemoteError
from greenpylm.chained.client import LoopClient


def triple(x):  # defined in __main__: dill ships it by value
    return 3 * x


class Offset:  # an instance with __call__, its class defined in __main__
    def __init__(self, by):
        self.by = by

    def __call__(self, x):
        return x + self.by


def main() -> None:
    kind, *rest, first_pull, last_push = sys.argv[1:]
    client = LoopClient(last_push, first_pull)
    factor = 7
    kinds = {
        "lambda": [lambda x: x + 1, lambda x: x * 2, lambda x: x - 3],
        "closure": [lambda x: x * factor, lambda x: x + factor, lambda x: -x],
        "main function": [triple, triple, triple],
        "partial": [functools.partial(pow, 2), functools.partial(max, 100), str],
        "instance": [Offset(1), Offset(10), Offset(100)],
    }
    if kind == "all":
        out = {}
        for name, steps in kinds.items():
            out[name] = list(client.job(steps, range(5), ordered=True, timeout=20))
        print(json.dumps(out))
    elif kind == "many":
        n = int(rest[0])
        results = list(client.job(kinds["lambda"], range(n), timeout=30))
        print(json.dumps({"count": len(results), "sorted": sorted(results) == sorted(
            (x + 1) * 2 - 3 for x in range(n))}))
    elif kind == "progress":  # 'many', with a line each 1000 results; resends after 2 s
        n, seen = int(rest[0]), collections.Counter()
        client.resend_after = 2.0
        for i, result in enumerate(client.job(kinds["lambda"], range(n), timeout=60), 1):
            seen[result] += 1
            if i % 1000 == 0:
                print(f"progress {i}", flush=True)
        print(json.dumps({"count": sum(seen.values()), "exactly once": seen == collections.Counter(
            (x + 1) * 2 - 3 for x in range(n))}))
    elif kind == "evil":
        try:
            client.eval([lambda x: open(x, "w").close() or x, lambda x: x, lambda x: x],
                        rest[0], timeout=5)
            print(json.dumps({"error": None}))
        except RemoteError as error:
            print(json.dumps({"error": error.remote_type, "message": error.remote_message}))
        except CallTimeout as error:
            print(json.dumps({"error": "CallTimeout", "message": str(error)}))
    client.close()


if __name__ == "__main__":
    main()
