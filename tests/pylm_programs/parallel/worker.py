"""A worker named by a fresh uuid (any command-line argument is ignored)."""
from uuid import uuid4

from greenpylm.servers import Worker


class MyWorker(Worker):
    def foo(self, message):
        return self.name.encode('utf-8') + b' processed ' + message


if __name__ == '__main__':
    MyWorker(str(uuid4()), 'tcp://127.0.0.1:5559').start()
