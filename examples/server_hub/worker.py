"""A worker of the hub (it connects to the hub's cache address, BASE+3);
give it a name: python worker.py worker1"""
import os
import sys

from greenpylm.servers import Worker

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyWorker(Worker):
    def bar(self, message):
        return message + b" -> bar by " + self.name.encode()


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "worker"
    worker = MyWorker(name, "tcp://127.0.0.1:%d" % (BASE + 3))
    worker.start()
