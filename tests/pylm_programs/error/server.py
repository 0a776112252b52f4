"""A server whose method has a bug: it uses a name that does not exist."""
from greenpylm.servers import Server


class MyServer(Server):
    def foo(self, message):
        self.logger.warning('Got a message')
        print(x)  # noqa: F821 -- the bug is the point of this program
        return b'you sent me ' + message


if __name__ == '__main__':
    MyServer('my_server', 'tcp://127.0.0.1:5555', 'tcp://127.0.0.1:5556',
             'tcp://127.0.0.1:5557').start()
