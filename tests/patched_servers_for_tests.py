"""Monkey-patched servers for the one-hub tests.

    python tests/patched_servers_for_tests.py master NAME DB PULL PUB WPULL WPUSH
    python tests/patched_servers_for_tests.py sleeper MASTER_DB
    python tests/patched_servers_for_tests.py cruncher NAME DB PULL PUB
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
import time  # noqa: E402

from greenpylm.offload import in_thread  # noqa: E402
from greenpylm.servers import Master, Server, Worker  # noqa: E402


class Sleeper(Worker):
    def nap(self, payload):
        time.sleep(0.1)  # the standard library's: patched, it yields
        return payload


class Cruncher(Server):
    @in_thread
    def spin(self, payload):
        self.cache["spinning"] = b"yes"
        end = time.perf_counter() + float(payload)
        n = 0
        while time.perf_counter() < end:  # pure-Python CPU work
            n += 1
        return str(n).encode()


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "master":
        name, db, pull, pub, wpull, wpush = args
        Master(name, pull, pub, wpull, wpush, db).start()
    elif role == "sleeper":
        Sleeper("sleeper", args[0], concurrency=64).start()  # naps overlap
    elif role == "cruncher":
        name, db, pull, pub = args
        Cruncher(name, db, pull, pub).start()
