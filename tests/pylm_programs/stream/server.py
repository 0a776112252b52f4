"""A pipelined server that sends its results alternately to topic 'even' and 'odd'."""
from greenpylm.servers import Server


class MyServer(Server):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counter = 0

    def foo(self, message):
        self.logger.info('Got a message')
        return b'you sent me ' + message

    def handle_stream(self, message):
        topic = 'even' if self.counter % 2 == 0 else 'odd'
        self.logger.info(topic.capitalize())
        message.stage += 1  # handle_stream moves the message to its next step itself
        self.counter += 1
        return topic, message


if __name__ == '__main__':
    MyServer('my_server', db_address='tcp://127.0.0.1:5555',
             pull_address='tcp://127.0.0.1:5556', pub_address='tcp://127.0.0.1:5557',
             pipelined=True).start()
