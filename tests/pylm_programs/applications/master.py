"""A master configured from the command line (--name, --pull, --pub, --wpush, --wpull, --db)."""
from argparse import ArgumentParser

from greenpylm.servers import Master


def parse_arguments():
    parser = ArgumentParser(description='Run a master.')
    parser.add_argument('--name', type=str, required=True, help='name of the master')
    for option, port, what in (('--pull', 5555, 'pull service'), ('--pub', 5556, 'pub service'),
                               ('--wpush', 5557, 'push-to-workers service'),
                               ('--wpull', 5558, 'pull-from-workers service'),
                               ('--db', 5559, 'cache service')):
        parser.add_argument(option, type=str, default=f'tcp://127.0.0.1:{port}',
                            help=f'address of the {what}')
    return parser.parse_args()


def main():
    args = parse_arguments()
    Master(name=args.name, pull_address=args.pull, pub_address=args.pub,
           worker_pull_address=args.wpull, worker_push_address=args.wpush,
           db_address=args.db).start()


if __name__ == '__main__':
    main()
