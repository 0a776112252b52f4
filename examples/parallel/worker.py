"""A worker of the master 'server'; give it a name: python worker.py worker1

It only needs the master's cache address, where it finds the rest.
"""
import os
import sys

from greenpylm.servers import Worker

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyWorker(Worker):
    def foo(self, message):
        return message + b" processed by " + self.name.encode()


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "worker"
    worker = MyWorker(name, "tcp://127.0.0.1:%d" % BASE)
    worker.start()
