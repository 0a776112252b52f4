"""Sets a cached value, then sends ten messages and expects thirty results."""
from itertools import repeat

from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('server', 'tcp://127.0.0.1:5559')
    client.set(b' cached data ', 'cached')
    print(client.get('cached'))
    for result in client.job('server.foo', repeat(b'a message', 10), messages=30):
        print(result)
