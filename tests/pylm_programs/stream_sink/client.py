"""Ten messages through server, pipelines and sink; ten results."""
from itertools import repeat

from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('my_server', 'tcp://127.0.0.1:5555', sub_address='tcp://127.0.0.1:5581')
    steps = ['my_server.foo', 'my_pipeline.foo', 'my_sink.foo']
    for result in client.job(steps, repeat(b'a message', 10), messages=10):
        print('Client got: ', result)
