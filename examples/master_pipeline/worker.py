"""A worker of 'master': runs master.foo. Start as many as you like,
each with its own name: python worker.py w1

It only needs the master's cache address (BASE+0); it asks there for
the addresses it pulls work from and pushes results to.
"""
import os
import sys

from greenpylm.servers import Worker

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyWorker(Worker):
    def foo(self, message):
        return message + b" | worker " + self.name.encode()


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "w1"
    worker = MyWorker(name, db_address=f"tcp://127.0.0.1:{BASE}")
    worker.start()
