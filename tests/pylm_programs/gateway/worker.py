"""A worker (named by argv[1]) whose method `function` acknowledges anything."""
import sys

from greenpylm.servers import Worker


class MyWorker(Worker):
    def function(self, message):
        return b'acknowledged'


if __name__ == '__main__':
    MyWorker(sys.argv[1], db_address='tcp://127.0.0.1:5559').start()
