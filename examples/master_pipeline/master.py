"""A master that hands the work to workers and publishes their results
under its own name ('master'), for the pipeline to pick up.

Ports (default BASE=5555, set EXAMPLE_BASE_PORT to move them all):
BASE+0 cache, BASE+1 pull (clients push here), BASE+2 pub,
BASE+3 worker pull (results come back here), BASE+4 worker push.
"""
import os

from greenpylm.servers import Master

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

if __name__ == "__main__":
    master = Master("master",
                    pull_address=f"tcp://127.0.0.1:{BASE + 1}",
                    pub_address=f"tcp://127.0.0.1:{BASE + 2}",
                    worker_pull_address=f"tcp://127.0.0.1:{BASE + 3}",
                    worker_push_address=f"tcp://127.0.0.1:{BASE + 4}",
                    db_address=f"tcp://127.0.0.1:{BASE}",
                    pipelined=True)
    master.start()
