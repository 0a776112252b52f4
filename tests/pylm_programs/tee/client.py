"""One message into the tee; the answer comes from the closing branch."""
from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('my_server', 'tcp://127.0.0.1:5555', sub_address='tcp://127.0.0.1:5561')
    answer = client.eval(['my_server.foo', 'my_pipeline.foo'], b'a message')
    print('Client got: ', answer)
