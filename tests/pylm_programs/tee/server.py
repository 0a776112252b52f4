"""The first step; two pipelines subscribe to its results."""
import logging

from greenpylm.servers import Server


class MyServer(Server):
    def foo(self, message):
        self.logger.warning('Got a message')
        return b'you sent me ' + message


if __name__ == '__main__':
    MyServer('my_server', db_address='tcp://127.0.0.1:5555',
             pull_address='tcp://127.0.0.1:5556', pub_address='tcp://127.0.0.1:5557',
             pipelined=True, log_level=logging.DEBUG).start()
