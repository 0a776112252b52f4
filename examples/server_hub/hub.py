"""The second step: a hub named 'hub', a master fed by what 'server'
publishes instead of by clients. Its workers do the work; it publishes the
results to the clients.

Ports (127.0.0.1): it subscribes to BASE+2 (the server's pub) and binds
BASE+3 cache, BASE+4 pub, BASE+5 worker pull, BASE+6 worker push; BASE is
$EXAMPLE_BASE_PORT, 5555 by default.
"""
import os

from greenpylm.servers import Hub

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


def address(offset):
    return "tcp://127.0.0.1:%d" % (BASE + offset)


if __name__ == "__main__":
    hub = Hub("hub",
              sub_address=address(2),
              pub_address=address(4),
              worker_pull_address=address(5),
              worker_push_address=address(6),
              db_address=address(3),
              previous="server")
    hub.start()
