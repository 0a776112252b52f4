"""A worker that adds to each message a value found in the master's cache,
under the key 'greeting' (the client stores it there).

python worker.py worker1
"""
import os
import sys

from greenpylm.servers import Worker

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyWorker(Worker):
    def foo(self, message):
        greeting = self.get("greeting")
        return greeting + b" " + message + b" (from " + self.name.encode() + b")"


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "worker"
    worker = MyWorker(name, "tcp://127.0.0.1:%d" % BASE)
    worker.start()
