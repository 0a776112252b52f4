"""A worker (named by argv[1]) that adds the cached value to its answer."""
import sys

from greenpylm.servers import Worker


class MyWorker(Worker):
    def foo(self, message):
        cached = self.get('cached')
        return self.name.encode('utf-8') + cached + message


if __name__ == '__main__':
    MyWorker(sys.argv[1], db_address='tcp://127.0.0.1:5559').start()
