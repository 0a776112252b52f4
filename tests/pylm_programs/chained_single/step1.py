"""First link of the chain: foo, then on to step2.bar."""
from greenpylm.chained import Server


class Step1(Server):
    def foo(self, message):
        self.logger.warning('Got a message')
        return b'you sent me ' + message


if __name__ == '__main__':
    Step1(name='step1', pull_address='tcp://127.0.0.1:5555',
          next_address='tcp://127.0.0.1:5557', next_call='step2.bar',
          db_address='tcp://127.0.0.1:5556').start()
