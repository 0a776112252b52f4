"""A hub: subscribes to the server and hands the messages to its workers."""
from greenpylm.servers import Hub

if __name__ == '__main__':
    Hub(name='hub', sub_address='tcp://127.0.0.1:5557', pub_address='tcp://127.0.0.1:5558',
        worker_pull_address='tcp://127.0.0.1:5559',
        worker_push_address='tcp://127.0.0.1:5560',
        db_address='tcp://127.0.0.1:5561', previous='server', pipelined=False).start()
