"""Run a generic chained server from the command line.

    python -m greenpylm.chained server NAME --pull ADDRESS --next ADDRESS [--next-call METHOD]
    python -m greenpylm.chained last NAME --pull ADDRESS --push ADDRESS

A generic server applies the callables clients ship to it. Shipped code is
signed: give every process of the chain the same key in $GREENPYLM_KEY.
"""
from __future__ import annotations

import argparse
import sys

from ..shipping import KEY_VARIABLE
from .servers import LastServer, Server


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m greenpylm.chained",
        description="Run a generic chained server that applies shipped callables.",
        epilog=f"Shipped code runs only if signed with the key in ${KEY_VARIABLE}, "
               "the same in every process of the chain.")
    roles = p.add_subparsers(dest="role", required=True)
    for role, help_text in (("server", "a step that pushes to the next server"),
                            ("last", "the last step, which pushes to the client")):
        r = roles.add_parser(role, help=help_text)
        r.add_argument("name", help="the server's name (for logs)")
        r.add_argument("--pull", required=True, help="address to bind for incoming messages")
        if role == "server":
            r.add_argument("--next", required=True, help="address of the next server's pull")
            r.add_argument("--next-call", default="", help="method the next server runs "
                           "when the client gave no step for it")
        else:
            r.add_argument("--push", required=True, help="address to bind, where the client takes the results")
        r.add_argument("--db", default="", help="address to bind the cache service on")
        r.add_argument("--cache-size", type=int, default=256,
                       help="how many shipped callables to keep (default 256)")
        r.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING... (INFO)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    common = dict(db_address=args.db, log_level=args.log_level.upper(),
                  callable_cache_size=args.cache_size)
    if args.role == "server":
        server = Server(args.name, args.pull, args.next, args.next_call, **common)
    else:
        server = LastServer(args.name, args.pull, args.push, **common)
    server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
