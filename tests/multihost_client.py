"""Clients that the multi-host tests run on a host of their own.

    python tests/multihost_client.py job DB N       one job of N inputs to m.work; a line
                                                    'progress K' each 1000 results, then JSON
    python tests/multihost_client.py calls DB [PULL PUB]
        s.foo again and again, each within 2 s: 'call I ok|timeout T' (T: monotonic
        time); through the client link, or pylm's PUSH and SUB if PULL and PUB are given
"""
from __future__ import annotations

import collections
import json
import sys
import time

from greenpylm import CallTimeout
from greenpylm.clients import Client


def job(db: str, count: int) -> None:
    inputs = [b"%d" % i for i in range(count)]
    seen: collections.Counter = collections.Counter()
    with Client("m", db) as client:
        for n, result in enumerate(client.job("m.work", inputs, timeout=120), 1):
            seen[result.rpartition(b"|")[0]] += 1
            if n % 1000 == 0:
                print(f"progress {n}", flush=True)
    print(json.dumps({"results": sum(seen.values()), "distinct": len(seen),
                      "missing": sum(1 for i in inputs if i not in seen),
                      "duplicated": sum(1 for n in seen.values() if n > 1)}), flush=True)


def calls(db: str, pull: str | None = None, pub: str | None = None) -> None:
    with Client("s", db, push_address=pull, sub_address=pub) as client:
        for i in range(10 ** 9):
            try:
                ok = client.eval("s.foo", b"%d" % i, timeout=2) == b"you sent me %d" % i
                print(f"call {i} {'ok' if ok else 'wrong'} {time.monotonic():.3f}", flush=True)
            except CallTimeout:
                print(f"call {i} timeout {time.monotonic():.3f}", flush=True)


if __name__ == "__main__":
    kind, db, *rest = sys.argv[1:]
    job(db, int(rest[0])) if kind == "job" else calls(db, *rest)
