"""The ``greenpylm`` command line (also ``python -m greenpylm``).

    greenpylm run MODULE:CLASS NAME [--OPTION VALUE ...] [--workers N [--worker MODULE:CLASS]]
    greenpylm call SERVER DB_ADDR FUNCTION [PAYLOAD | - | --file F] [--json] [--timeout S]
    greenpylm job SERVER DB_ADDR FUNCTION [--file F] [--json]  (payloads: lines of stdin)
    greenpylm stats SERVER DB_ADDR
    greenpylm methods SERVER DB_ADDR
    greenpylm dashboard NAME=DB_ADDR ... [--listen http://127.0.0.1:8080]
    greenpylm top NAME=DB_ADDR ... [--count N]
    greenpylm demo

Exit codes: 0 done, 1 an error on the server, a timeout or a failure to
run, 2 bad arguments. Errors are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..wire.errors import CallTimeout, RemoteError
from . import calls, run, watching
from .common import BAD_ARGUMENTS, FAILED, OK, PROG, Failure, one_line, write_line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run greenpylm servers and workers, call them, read their statistics.",
        epilog="Exit codes: 0 ok; 1 an error on the server, a timeout or a failure to run; "
               "2 bad arguments. Run 'greenpylm COMMAND --help' for a command's options.")
    from .. import __version__
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_command(commands)
    calls.add_commands(commands)
    watching.add_commands(commands)
    demo = commands.add_parser(
        "demo", help="run a server and a client in this one process",
        description="Start a small server on free 127.0.0.1 ports in this process (a "
                    "greenlet beside the client) and show an eval, a job, the cache and an "
                    "error travelling back from the server.")
    demo.set_defaults(handler=cmd_demo)
    return p


def cmd_demo(args: argparse.Namespace) -> int:
    from ..clients import Client
    from ..servers import Server

    class Shouter(Server):
        # greenpylm's own modules hold no client-callable methods: this is the user's
        __module__ = "greenpylm_demo"

        def shout(self, payload: bytes) -> bytes:
            return payload.upper() + b"!"

        def divide(self, payload: bytes) -> bytes:
            a, b = payload.split(b"/")
            return str(int(a) / int(b)).encode()

    anywhere = "tcp://127.0.0.1:*"  # ports chosen when the sockets bind: no race for them
    server = Shouter("shouter", anywhere, anywhere, anywhere, log_level="CRITICAL")
    server.spawn()  # non-blocking: the server runs as greenlets beside the client
    db = server.cache["db_address"].decode()  # where the cache service did bind
    try:
        with Client("shouter", db, logging_level="WARNING") as client:
            write_line(f"eval     -> {client.eval('shouter.shout', b'hello greenpylm', timeout=10)!r}")
            words = [b"one", b"two", b"three"]
            write_line(f"job      -> {sorted(client.job('shouter.shout', words, timeout=10))!r}")
            count = sum(1 for _ in client.job("shouter.shout", (b"x" for _ in range(10000)),
                                              timeout=10))
            write_line(f"job      -> {count} results streamed")
            client.set(b"kept on the server", "note", timeout=10)
            write_line(f"cache    -> {client.get('note', timeout=10)!r}")
            try:
                client.eval("shouter.divide", b"1/0", timeout=10)
            except RemoteError as error:
                write_line(f"error    -> {error.remote_type} - {error.remote_message}")
            write_line(f"and on   -> {client.eval('shouter.divide', b'1/4', timeout=10)!r}")
    finally:
        server.stop()
    return OK


# -- entry point ------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit code."""
    p = parser()
    args, rest = p.parse_known_args(argv)  # exits 2 on bad arguments, 0 on --help
    if rest and args.command != "run":  # only run's options depend on what it runs
        p.parse_args(argv)
    where = f"{PROG} {args.command}"
    try:
        return args.handler(args, rest) if args.command == "run" else args.handler(args)
    except Failure as failure:
        prefix = f"{where}: error: " if failure.code == BAD_ARGUMENTS else "error: "
        sys.stderr.write(prefix + str(failure) + "\n")
        return failure.code
    except RemoteError as error:
        sys.stderr.write(f"error: {one_line(error)}\n")
        return FAILED
    except CallTimeout as timeout:
        sys.stderr.write(f"error: timeout: {str(timeout).strip().splitlines()[0]}\n")
        return FAILED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # stdout closed early (| head): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return OK
    except Exception as exc:  # anything else: one line, no traceback
        sys.stderr.write(f"error: {one_line(exc)}\n")
        return FAILED
