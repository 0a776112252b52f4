"""One message: the server, then the hub's workers."""
from greenpylm.clients import Client

if __name__ == '__main__':
    client = Client('server', 'tcp://127.0.0.1:5555', sub_address='tcp://127.0.0.1:5558')
    answer = client.eval(['server.foo', 'hub.foo'], b'a message')
    print('Client got: ', answer)
