"""Calls the buggy method once and prints what comes back."""
from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('my_server', 'tcp://127.0.0.1:5555')
    answer = client.eval('my_server.foo', b'a message', messages=1)
    print('Client got: ', answer)
