"""A master whose scatter hook hands every incoming message to the workers
three times.

Ports (127.0.0.1): BASE cache, BASE+1 pull, BASE+2 pub, BASE+3 worker pull,
BASE+4 worker push; BASE is $EXAMPLE_BASE_PORT, 5555 by default.
"""
import os

from greenpylm.servers import Master

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


def address(offset):
    return "tcp://127.0.0.1:%d" % (BASE + offset)


class MyMaster(Master):
    def scatter(self, message):
        for _ in range(3):
            yield message


if __name__ == "__main__":
    server = MyMaster(name="server",
                      db_address=address(0),
                      pull_address=address(1),
                      pub_address=address(2),
                      worker_pull_address=address(3),
                      worker_push_address=address(4))
    server.start()
