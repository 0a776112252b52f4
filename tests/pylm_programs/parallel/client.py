"""Sends ten messages through the master and prints the ten results."""
from itertools import repeat

from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('server', 'tcp://127.0.0.1:5559')
    for result in client.job('server.foo', repeat(b'a message', 10), messages=10):
        print(result)
