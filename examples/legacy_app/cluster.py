"""The cluster the legacy app calls: a master and two workers in one process.

Its workers call the standard library's blocking `time.sleep` (think of a
slow database driver): with the monkey patching below it yields to the hub,
and with `concurrency=50` each worker handles up to 50 requests at once
(by default a worker handles one message at a time, as in pylm).
"""
from gevent import monkey

monkey.patch_all()  # first, before any other import

import os  # noqa: E402
import time  # noqa: E402

from greenpylm.runner import Cluster  # noqa: E402
from greenpylm.servers import Master, Worker  # noqa: E402

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5575"))
ADDRESS = [f"tcp://127.0.0.1:{BASE + i}" for i in range(5)]  # db, pull, pub, wpull, wpush


class Squarer(Worker):
    def square(self, payload):
        time.sleep(0.05)  # a blocking call of the legacy world: here it yields
        return str(int(payload) ** 2).encode()


if __name__ == "__main__":
    db, pull, pub, worker_pull, worker_push = ADDRESS
    master = Master("squares", pull, pub, worker_pull, worker_push, db)
    with Cluster() as cluster:
        cluster.start(master, Squarer("w1", db, concurrency=50),
                      Squarer("w2", db, concurrency=50))
        print("cluster up", flush=True)
        cluster.wait()
