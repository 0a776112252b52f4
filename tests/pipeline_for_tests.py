"""The stages of a three-stage pipeline, each a process of its own.

    python tests/pipeline_for_tests.py first  DB PULL PUB
    python tests/pipeline_for_tests.py middle DB SUB PUB      (subscribes to 'first')
    python tests/pipeline_for_tests.py last   DB SUB PUB      (to 'middle'; to the client)

Every stage's `step` appends '|<its name>' to the payload.
"""
from __future__ import annotations

import sys

from greenpylm.servers import Pipeline, Server


class Step:
    def step(self, payload: bytes) -> bytes:
        return payload + b"|" + self.name.encode()


class First(Step, Server):
    pass


class Stage(Step, Pipeline):
    pass


if __name__ == "__main__":
    role, db, source, pub = sys.argv[1:]
    if role == "first":
        First("first", db, source, pub, pipelined=True).start()
    else:
        previous = "first" if role == "middle" else "middle"
        Stage(role, db, source, pub, previous, to_client=role == "last").start()
