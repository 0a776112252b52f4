"""A worker configured from the command line (--name, default a fresh uuid; --db)."""
from argparse import ArgumentParser
from uuid import uuid4

from greenpylm.servers import Worker


class MyWorker(Worker):
    def foo(self, message):
        return self.name.encode('utf-8') + b' processed' + message


def parse_arguments():
    parser = ArgumentParser(description='Run a worker.')
    parser.add_argument('--name', type=str, default=str(uuid4()), help='name of the worker')
    parser.add_argument('--db', type=str, default='tcp://127.0.0.1:5559',
                        help="address of the master's cache service")
    return parser.parse_args()


def main():
    args = parse_arguments()
    MyWorker(args.name, args.db).start()


if __name__ == '__main__':
    main()
