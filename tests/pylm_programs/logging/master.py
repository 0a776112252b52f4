"""The gather master again, at WARNING level, logging when it changes the last payload."""
import logging

from greenpylm.servers import Master


class MyMaster(Master):
    def __init__(self, *args, **kwargs):
        self.counter = 0
        super().__init__(*args, **kwargs)

    def scatter(self, message):
        for _ in range(3):
            yield message

    def gather(self, message):
        self.counter += 1
        if self.counter == 30:
            self.logger.critical('Changing the payload of the message')
            message = self.change_payload(message, b'final message')
        yield message


if __name__ == '__main__':
    MyMaster(name='server', db_address='tcp://127.0.0.1:5559',
             pull_address='tcp://127.0.0.1:5555', pub_address='tcp://127.0.0.1:5556',
             worker_pull_address='tcp://127.0.0.1:5557',
             worker_push_address='tcp://127.0.0.1:5558',
             log_level=logging.WARNING).start()
