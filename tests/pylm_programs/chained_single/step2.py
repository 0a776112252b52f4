"""Second link: bar, then on to last.baz."""
from greenpylm.chained import Server


class Step2(Server):
    def bar(self, message):
        self.logger.warning('Got a message')
        return b'got it too, after ' + message


if __name__ == '__main__':
    Step2(name='step2', pull_address='tcp://127.0.0.1:5557',
          next_address='tcp://127.0.0.1:5559', next_call='last.baz',
          db_address='tcp://127.0.0.1:5558').start()
