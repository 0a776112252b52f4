"""Ten messages in; only the even half comes back, so five results are expected."""
from itertools import repeat

from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('my_server', 'tcp://127.0.0.1:5555', sub_address='tcp://127.0.0.1:5561')
    for result in client.job(['my_server.foo', 'my_pipeline.foo'],
                             repeat(b'a message', 10), messages=5):
        print('Client got: ', result)
