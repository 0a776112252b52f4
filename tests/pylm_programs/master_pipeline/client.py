"""Ten messages: the master's workers, then the pipeline."""
from itertools import repeat

from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('server', 'tcp://127.0.0.1:5559', sub_address='tcp://127.0.0.1:5561')
    for result in client.job(['server.foo', 'my_pipeline.foo'],
                             repeat(b'a message', 10), messages=10):
        print(result)
