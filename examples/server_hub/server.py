"""The first step: a server named 'server' with a method foo. Pipelined, it
publishes its results for the hub that subscribes to it, not to clients.

Ports (127.0.0.1): BASE cache, BASE+1 pull, BASE+2 pub; BASE is
$EXAMPLE_BASE_PORT, 5555 by default.
"""
import os

from greenpylm.servers import Server

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyServer(Server):
    def foo(self, message):
        return message + b" -> foo"


if __name__ == "__main__":
    server = MyServer("server",
                      db_address="tcp://127.0.0.1:%d" % BASE,
                      pull_address="tcp://127.0.0.1:%d" % (BASE + 1),
                      pub_address="tcp://127.0.0.1:%d" % (BASE + 2),
                      pipelined=True)
    server.start()
