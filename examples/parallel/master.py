"""A master named 'server': clients send it work, workers do the work.

Ports (127.0.0.1): BASE cache, BASE+1 pull, BASE+2 pub, BASE+3 worker pull,
BASE+4 worker push; BASE is $EXAMPLE_BASE_PORT, 5555 by default.
"""
import os

from greenpylm.servers import Master

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


def address(offset):
    return "tcp://127.0.0.1:%d" % (BASE + offset)


if __name__ == "__main__":
    server = Master(name="server",
                    db_address=address(0),
                    pull_address=address(1),
                    pub_address=address(2),
                    worker_pull_address=address(3),
                    worker_push_address=address(4))
    server.start()
