"""Calls my_server.foo once and prints the answer."""
from greenpylm.standalone import Client

if __name__ == '__main__':
    client = Client('my_server', 'tcp://127.0.0.1:5555')
    print('Client got: ', client.eval('my_server.foo', b'a message'))
