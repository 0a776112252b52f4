"""The server both pipelines listen to. It publishes every result under
its own name ('server'); zmq delivers each one to every subscriber.

Ports (default BASE=5555, set EXAMPLE_BASE_PORT to move them all):
BASE+0 cache, BASE+1 pull (the client pushes here), BASE+2 pub.
"""
import os

from greenpylm.servers import Server

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyServer(Server):
    def foo(self, message):
        return b"server saw " + message


if __name__ == "__main__":
    server = MyServer("server",
                      db_address=f"tcp://127.0.0.1:{BASE}",
                      pull_address=f"tcp://127.0.0.1:{BASE + 1}",
                      pub_address=f"tcp://127.0.0.1:{BASE + 2}",
                      pipelined=True)
    server.start()
