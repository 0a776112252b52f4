"""Ten messages through the 2016 HTTP master."""
from itertools import repeat

from greenpylm.standalone import Client

if __name__ == '__main__':
    client = Client('server', 'tcp://127.0.0.1:5559')
    for result in client.job('server.foo', repeat(b'a message', 10), messages=10):
        print(result)
