"""A worker that counts its calls and logs every tenth one."""
import sys

from greenpylm.servers import Worker


class MyWorker(Worker):
    def __init__(self, *args, **kwargs):
        self.ncalls = 0
        super().__init__(*args, **kwargs)

    def foo(self, message):
        self.ncalls += 1
        cached = self.get('cached')
        if self.ncalls % 10 == 0:
            self.logger.info('Processed {} messages'.format(self.ncalls))
        return self.name.encode('utf-8') + cached + message


if __name__ == '__main__':
    MyWorker(sys.argv[1], db_address='tcp://127.0.0.1:5559').start()
