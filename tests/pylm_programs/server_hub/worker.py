"""A worker (named by argv[1]) of the hub."""
import sys

from greenpylm.servers import Worker


class MyWorker(Worker):
    def foo(self, message):
        self.logger.info('Processed')
        return self.name.encode('utf-8') + b' processed ' + message


if __name__ == '__main__':
    MyWorker(sys.argv[1], 'tcp://127.0.0.1:5561').start()
