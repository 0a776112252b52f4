"""Pushes one message into step1 (its pull address), reads the result from last."""
from greenpylm.chained import LoopClient

if __name__ == '__main__':
    client = LoopClient(push_address='tcp://127.0.0.1:5561',
                        pull_address='tcp://127.0.0.1:5555',
                        db_address='tcp://127.0.0.1:5556', server_name='step1')
    for result in client.job('foo', [b'a message'], messages=1):
        print('Client got: ', result)
