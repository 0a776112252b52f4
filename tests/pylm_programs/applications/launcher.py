"""Calls --server's --function on ten messages and prints the results."""
from argparse import ArgumentParser
from itertools import repeat

from greenpylm.clients import Client


def parse_arguments():
    parser = ArgumentParser(description='Send ten messages to a server.')
    parser.add_argument('--server', type=str, required=True, help='name of the server')
    parser.add_argument('--function', type=str, required=True, help='method to call')
    parser.add_argument('--db', type=str, default='tcp://127.0.0.1:5559',
                        help="address of the master's cache service")
    return parser.parse_args()


def main():
    args = parse_arguments()
    client = Client(args.server, args.db)
    function = '.'.join([args.server, args.function])
    for result in client.job(function, repeat(b' a message', 10), messages=10):
        print(result)


if __name__ == '__main__':
    main()
