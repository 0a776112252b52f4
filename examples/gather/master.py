"""A master that hands every message to the workers three times (scatter)
and, of every 3 * N results its workers send back, rewrites the last one
(gather). N is the number of messages a client sends: 10, or the first
argument.

Ports (127.0.0.1): BASE cache, BASE+1 pull, BASE+2 pub, BASE+3 worker pull,
BASE+4 worker push; BASE is $EXAMPLE_BASE_PORT, 5555 by default.
"""
import os
import sys

from greenpylm.servers import Master

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def address(offset):
    return "tcp://127.0.0.1:%d" % (BASE + offset)


class MyMaster(Master):
    def __init__(self, *args, **kwargs):
        self.counter = 0
        super().__init__(*args, **kwargs)

    def scatter(self, message):
        for _ in range(3):
            yield message

    def gather(self, message):
        self.counter += 1
        if self.counter % (3 * N) == 0:
            yield self.change_payload(message, b"final message")
        else:
            yield message


if __name__ == "__main__":
    server = MyMaster(name="server",
                      db_address=address(0),
                      pull_address=address(1),
                      pub_address=address(2),
                      worker_pull_address=address(3),
                      worker_push_address=address(4))
    server.start()
