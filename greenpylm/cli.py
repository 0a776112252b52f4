"""The ``greenpylm`` command line (also ``python -m greenpylm``).

    greenpylm run module:Class NAME --db ADDR [--pull ADDR --pub ADDR] [--log-level L]
    greenpylm call SERVER DB_ADDR FUNCTION PAYLOAD [--timeout S]
    greenpylm job SERVER DB_ADDR FUNCTION [--timeout S]      (payloads: stdin lines)
    greenpylm stats SERVER DB_ADDR [--timeout S]
    greenpylm demo

Exit codes: 0 done, 1 an error on the server, a timeout or a failure to
run, 2 bad arguments. Errors are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import pkgutil
import sys
import uuid
from typing import Any, Iterator, Sequence

from .wire.errors import CallTimeout, RemoteError

PROG = "greenpylm"
DEFAULT_TIMEOUT = 10.0
CLIENT_LOG_LEVEL = "WARNING"

OK, FAILED, BAD_ARGUMENTS = 0, 1, 2


class Failure(Exception):
    """An error the command reports as one line, with its exit code."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


# -- argument types ----------------------------------------------------------
def address(text: str) -> str:
    if "://" not in text or text.endswith("://"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a zmq address (say tcp://127.0.0.1:5555 or ipc:///tmp/x)")
    return text


def log_level(text: str) -> int | str:
    from .log import level_number
    value: int | str = int(text) if text.isdigit() else text.upper()
    try:
        level_number(value)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"unknown log level {text!r} (DEBUG, INFO, WARNING, ERROR or a number)") from None
    return value


def checked_number(text: str, convert: type, kind: str, ok: Any, rule: str) -> Any:
    """`text` as a number of type `convert` for which `ok` holds, or an argparse error."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{rule}, not {text}")
    return value


def seconds(text: str) -> float:
    return checked_number(text, float, "a number of seconds", lambda v: v > 0,
                          "a timeout is more than 0 seconds")


def positive(text: str) -> int:
    return checked_number(text, int, "a whole number", lambda v: v >= 1, "expected 1 or more")


# -- the parser --------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run greenpylm servers and workers, call them, read their statistics.",
        epilog="Exit codes: 0 ok; 1 an error on the server, a timeout or a failure to run; "
               "2 bad arguments. Run 'greenpylm COMMAND --help' for a command's options.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def server_arguments(c: argparse.ArgumentParser, function: bool) -> None:
        c.add_argument("server", metavar="SERVER", help="the server's name")
        c.add_argument("db", type=address, metavar="DB_ADDR",
                       help="the server's cache service address")
        if function:
            c.add_argument("function", metavar="FUNCTION",
                           help="'server.method', or just 'method' of SERVER")

    def client_options(c: argparse.ArgumentParser) -> None:
        c.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="S",
                       help=f"seconds to wait for the server (default {DEFAULT_TIMEOUT:g})")
        c.add_argument("--log-level", type=log_level, default=CLIENT_LOG_LEVEL, metavar="L",
                       help=f"the client's log level (default {CLIENT_LOG_LEVEL})")

    def client_command(name: str, handler: Any, function: bool, help: str,
                       description: str) -> argparse.ArgumentParser:
        """A command that calls a server: SERVER DB_ADDR [FUNCTION] and the client options."""
        c = commands.add_parser(name, help=help, description=description)
        server_arguments(c, function)
        client_options(c)
        c.set_defaults(handler=handler)
        return c

    run = commands.add_parser(
        "run", help="run a Server or Worker subclass until SIGTERM or Ctrl-C",
        description="Import MODULE, take its CLASS, a subclass of greenpylm.servers.Server "
                    "(started as CLASS(NAME, db, pull, pub)) or of greenpylm.servers.Worker "
                    "(started as CLASS(NAME, db), db being its master's cache service), and run "
                    "it until SIGTERM or Ctrl-C stops it gracefully. The current directory is "
                    "searched for MODULE, as are PYTHONPATH and the installed packages.")
    run.add_argument("target", metavar="MODULE:CLASS", help="what to run, e.g. myapp.servers:MyServer")
    run.add_argument("name", metavar="NAME", help="the server's name: clients call 'NAME.method'")
    run.add_argument("--db", type=address, required=True, metavar="ADDR",
                     help="a Server's cache service address (bound); a Worker's master's (connected)")
    run.add_argument("--pull", type=address, metavar="ADDR",
                     help="address a Server binds to take clients' messages (Server only)")
    run.add_argument("--pub", type=address, metavar="ADDR",
                     help="address a Server binds to publish results (Server only)")
    run.add_argument("--log-level", type=log_level, default="INFO", metavar="L",
                     help="DEBUG, INFO, WARNING, ERROR or a logging number (default INFO)")
    run.set_defaults(handler=cmd_run)

    call = client_command(
        "call", cmd_call, True, help="call one method with one payload and print the result",
        description="Call FUNCTION on the server SERVER, whose cache service is at DB_ADDR, "
                    "with PAYLOAD (encoded as UTF-8), and print the result (decoded as UTF-8). "
                    "An error on the server is printed as 'error: TYPE: MESSAGE' and exits 1.")
    call.add_argument("payload", metavar="PAYLOAD", help="the message, as text")

    job = client_command(
        "job", cmd_job, True,
        help="call one method for every line of stdin, print results as they come",
        description="Send each line of stdin (without its newline) to FUNCTION on SERVER as "
                    "one message, and print each result as one line as soon as it comes "
                    "(in the order results arrive, not necessarily the input order). stdin "
                    "is streamed, never read whole first.")
    job.add_argument("--ordered", action="store_true", help="print results in input order")
    job.add_argument("--window", type=positive, metavar="N",
                     help="most lines in flight: a line is read only when fewer are "
                          "unanswered, so results of a slow producer wait for N lines "
                          "or the end of stdin (default 2000; 1 when stdin is a terminal)")
    job.add_argument("--batch-size", type=positive, metavar="N",
                     help="most lines sent together (default 128; 1 when stdin is a terminal)")

    client_command(
        "stats", cmd_stats, False, help="print a server's statistics as JSON",
        description="Ask the cache service of SERVER at DB_ADDR for the server's statistics "
                    "and print them as JSON: name, uptime_s, messages_in, messages_out, "
                    "errors, clients and held_for_clients (its client link), in_flight and "
                    "workers_seen (for a master), and every raw counter.")

    demo = commands.add_parser(
        "demo", help="run a server and a client in this one process",
        description="Start a small server on free 127.0.0.1 ports in this process (a "
                    "greenlet beside the client) and show an eval, a job, the cache and an "
                    "error travelling back from the server.")
    demo.set_defaults(handler=cmd_demo)
    return p


# -- helpers ----------------------------------------------------------------
def qualified(server: str, function: str) -> str:
    return function if "." in function else f"{server}.{function}"


def text(result: Any) -> str:
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result).decode("utf-8", errors="replace")
    return str(result)


def write_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stdin_lines(stream: Any = None) -> Iterator[bytes]:
    """The lines of `stream` (stdin's bytes), without their newline, read as they come.

    Reads go to gevent's thread pool, so the hub (the client's dispatcher,
    its sockets) keeps running while stdin has nothing to give.
    """
    import gevent
    stream = stream if stream is not None else sys.stdin.buffer
    read = getattr(stream, "read1", stream.read)
    pool = gevent.get_hub().threadpool
    pending = b""
    while True:
        chunk = pool.apply(read, (65536,))
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def load_class(target: str) -> type:
    module_name, colon, class_name = target.partition(":")
    if not colon or not module_name or not class_name:
        raise Failure(f"expected MODULE:CLASS, e.g. myapp.servers:MyServer, not {target!r}",
                      BAD_ARGUMENTS)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as 'python -m' does, for the console script
    try:
        cls = pkgutil.resolve_name(target)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise Failure(f"no module named {module_name!r} (is it on PYTHONPATH or in the "
                          "current directory?)", BAD_ARGUMENTS) from None
        raise Failure(f"importing {module_name!r} failed: {one_line(exc)}", BAD_ARGUMENTS) from None
    except AttributeError:
        raise Failure(f"module {module_name!r} has no {class_name!r}", BAD_ARGUMENTS) from None
    except Exception as exc:
        raise Failure(f"importing {module_name!r} failed: {one_line(exc)}", BAD_ARGUMENTS) from None
    if not isinstance(cls, type):
        raise Failure(f"{target} is not a class", BAD_ARGUMENTS)
    return cls


def one_line(exc: BaseException) -> str:
    if isinstance(exc, RemoteError):  # its str() carries the remote traceback
        message = exc.remote_message.strip().splitlines()
        return f"{exc.remote_type}: {message[0]}" if message else exc.remote_type
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


# -- commands ---------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from .servers import Server, Worker
    cls = load_class(args.target)
    if issubclass(cls, Server):
        missing = [o for o in ("pull", "pub") if getattr(args, o) is None]
        if missing:
            raise Failure(f"a Server needs {' and '.join('--' + m for m in missing)}",
                          BAD_ARGUMENTS)
        server = cls(args.name, args.db, args.pull, args.pub, log_level=args.log_level)
    elif issubclass(cls, Worker):
        extra = [o for o in ("pull", "pub") if getattr(args, o) is not None]
        if extra:
            raise Failure(f"a Worker takes no {' or '.join('--' + e for e in extra)}: "
                          "it asks its master (at --db) where to connect", BAD_ARGUMENTS)
        server = cls(args.name, args.db, log_level=args.log_level)
    else:
        raise Failure(f"{args.target} is neither a greenpylm.servers.Server nor a "
                      "greenpylm.servers.Worker subclass", BAD_ARGUMENTS)
    server.start()
    return OK


def make_client(args: argparse.Namespace) -> Any:
    from .clients import Client
    return Client(args.server, args.db, logging_level=args.log_level)


def cmd_call(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        result = client.eval(qualified(args.server, args.function), args.payload.encode(),
                             timeout=args.timeout)
    if result is not None:  # None: the method dropped the message
        write_line(text(result))
    return OK


def cmd_job(args: argparse.Namespace) -> int:
    from .clients import DEFAULT_BATCH, DEFAULT_WINDOW, Client
    typed = sys.stdin.isatty()  # answer each line before reading the next
    window = args.window or (1 if typed else DEFAULT_WINDOW)
    batch_size = args.batch_size or (1 if typed else DEFAULT_BATCH)
    with Client(args.server, args.db, logging_level=args.log_level, window=window,
                batch_size=batch_size) as client:
        for result in client.job(qualified(args.server, args.function), stdin_lines(),
                                 timeout=args.timeout, ordered=args.ordered):
            write_line(text(result))
    return OK


def cmd_stats(args: argparse.Namespace) -> int:
    import zmq.green as zmq
    from .cache_client import CacheClient
    from .log import get_logger, setup
    from .wire.curve import cluster_keys
    setup(f"cli:{args.server}", args.log_level)
    client = CacheClient(args.server, args.db, zmq.Context.instance(), str(uuid.uuid4()),
                         log=get_logger(f"cli:{args.server}", "stats"), keys=cluster_keys())
    try:
        answer = client.request("stats", "", b"", args.timeout)
    finally:
        client.close()
    try:
        stats = json.loads(answer)
    except ValueError:
        raise Failure("the server's statistics are not JSON (an older greenpylm?)") from None
    write_line(json.dumps(stats, indent=2, sort_keys=True))
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .clients import Client
    from .servers import Server

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
    args = parser().parse_args(argv)  # exits 2 on bad arguments, 0 on --help
    where = f"{PROG} {args.command}"
    try:
        return args.handler(args)
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
