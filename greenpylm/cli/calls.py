"""The commands that call a server: ``call``, ``job``, ``stats``, ``methods``.

Payloads are bytes end to end: an argument is sent as its UTF-8 encoding,
a file or stdin as read; results are written to stdout as they arrive,
each followed by a newline. With ``--json`` a payload must be one JSON
value (sent as compact UTF-8 JSON) and results are printed as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any, Iterable, Iterator

from .common import DEFAULT_TIMEOUT, CLIENT_LOG_LEVEL, BAD_ARGUMENTS, OK, Failure, address, \
    log_level, positive, seconds, write_line


def add_commands(commands: Any) -> None:
    """Add call, job, stats and methods to the subcommands `commands`."""
    call = client_command(
        commands, "call", cmd_call, True,
        help="call one method with one payload and print the result",
        description="Call FUNCTION on the server SERVER, whose cache service is at DB_ADDR, "
                    "with PAYLOAD (its UTF-8 bytes; '-' reads stdin's bytes; --file reads a "
                    "file's), and write the result's bytes to stdout, then a newline. An error "
                    "on the server is printed as 'error: TYPE: MESSAGE' and exits 1.")
    call.add_argument("payload", metavar="PAYLOAD", nargs="?",
                      help="the message, as text; '-' for stdin's bytes")
    call.add_argument("--file", metavar="PATH", help="send this file's bytes as the payload")
    json_option(call)

    job = client_command(
        commands, "job", cmd_job, True,
        help="call one method for every line of stdin, print results as they come",
        description="Send each line of stdin (or of --file; without its newline, as bytes) "
                    "to FUNCTION on SERVER as one message, and write each result's bytes and "
                    "a newline as soon as it comes (in the order results arrive, not "
                    "necessarily the input order). Input is streamed, never read whole first.")
    job.add_argument("--file", metavar="PATH", help="read the lines from this file")
    job.add_argument("--ordered", action="store_true", help="print results in input order")
    job.add_argument("--window", type=positive, metavar="N",
                     help="most lines in flight: a line is read only when fewer are "
                          "unanswered, so results of a slow producer wait for N lines "
                          "or the end of stdin (default 2000; 1 when stdin is a terminal)")
    job.add_argument("--batch-size", type=positive, metavar="N",
                     help="most lines sent together (default 128; 1 when stdin is a terminal)")
    json_option(job)

    client_command(
        commands, "stats", cmd_stats, False, help="print a server's statistics as JSON",
        description="Ask the cache service of SERVER at DB_ADDR for the server's statistics "
                    "and print them as JSON (the fields are described in docs/statistics.md). "
                    "Fails if the server there has another name.")

    client_command(
        commands, "methods", cmd_methods, False,
        help="list the methods a server's clients may call, with their docstrings",
        description="Ask the cache service of SERVER at DB_ADDR which methods its clients "
                    "may call: a server's own, or, for a master or hub, those of the workers "
                    "that joined it (each with the workers that have it).")


def client_command(commands: Any, name: str, handler: Any, function: bool, help: str,
                   description: str) -> argparse.ArgumentParser:
    """A command that calls a server: SERVER DB_ADDR [FUNCTION] and the client options."""
    usage = f"%(prog)s SERVER DB_ADDR{' FUNCTION' if function else ''}" + \
        (" [PAYLOAD | -] [options]" if name == "call" else " [options]")
    c = commands.add_parser(name, help=help, description=description, usage=usage)
    c.add_argument("server", metavar="SERVER", help="the server's name")
    c.add_argument("db", type=address, metavar="DB_ADDR", help="the server's cache service address")
    if function:
        c.add_argument("function", metavar="FUNCTION",
                       help="'server.method', or just 'method' of SERVER")
    c.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds to wait for the server (default {DEFAULT_TIMEOUT:g})")
    c.add_argument("--log-level", type=log_level, default=CLIENT_LOG_LEVEL, metavar="L",
                   help=f"the client's log level (default {CLIENT_LOG_LEVEL})")
    c.set_defaults(handler=handler)
    return c


def json_option(c: argparse.ArgumentParser) -> None:
    c.add_argument("--json", action="store_true",
                   help="payloads are JSON values (checked, sent as compact JSON); results "
                        "are printed as JSON")


# -- payloads and results --------------------------------------------------------
def qualified(server: str, function: str) -> str:
    return function if "." in function else f"{server}.{function}"


def as_json(payload: bytes, where: str) -> bytes:
    """`payload` as compact JSON bytes, or a `Failure` naming `where` it was."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise Failure(f"{where} is not JSON: {exc}", BAD_ARGUMENTS) from None
    return json.dumps(value, separators=(",", ":")).encode()


def output(result: Any, as_json: bool) -> bytes:
    """What to write for `result`: its bytes (or text), or with `as_json` it as JSON."""
    if isinstance(result, (bytes, bytearray, memoryview)):
        data = bytes(result)
        if not as_json:
            return data
        try:
            return json.dumps(json.loads(data)).encode()
        except ValueError:
            return json.dumps(data.decode("utf-8", errors="backslashreplace")).encode()
    return json.dumps(result).encode() if as_json else str(result).encode()


def read_all(path: str | None) -> bytes:
    """The bytes of the file at `path`, or of stdin for None."""
    if path is None:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror}", BAD_ARGUMENTS) from None


def stream_lines(stream: Any) -> Iterator[bytes]:
    """The lines of the binary `stream`, without their newline, read as they come.

    Reads go to gevent's thread pool, so the hub (the client's dispatcher,
    its sockets) keeps running while the stream has nothing to give.
    """
    import gevent
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


def checked(lines: Iterable[bytes]) -> Iterator[bytes]:
    for number, line in enumerate(lines, 1):
        yield as_json(line, f"line {number}")


# -- commands ---------------------------------------------------------------
def cmd_call(args: argparse.Namespace) -> int:
    from ..clients import Client
    if args.file is not None and args.payload is not None:
        raise Failure("give PAYLOAD or --file, not both", BAD_ARGUMENTS)
    if args.file is None and args.payload is None:
        raise Failure("give PAYLOAD ('-' for stdin) or --file", BAD_ARGUMENTS)
    payload = args.payload.encode() if args.payload not in (None, "-") else read_all(args.file)
    if args.json:
        payload = as_json(payload, "the payload")
    with Client(args.server, args.db, logging_level=args.log_level) as client:
        result = client.eval(qualified(args.server, args.function), payload, timeout=args.timeout)
    if result is not None:  # None: the method dropped the message
        write_line(output(result, args.json))
    return OK


def cmd_job(args: argparse.Namespace) -> int:
    from ..clients import DEFAULT_BATCH, DEFAULT_WINDOW, Client
    typed = args.file is None and sys.stdin.isatty()  # answer each line before the next
    window = args.window or (1 if typed else DEFAULT_WINDOW)
    batch_size = args.batch_size or (1 if typed else DEFAULT_BATCH)
    try:
        source = sys.stdin.buffer if args.file is None else open(args.file, "rb")
    except OSError as exc:
        raise Failure(f"cannot read {args.file}: {exc.strerror}", BAD_ARGUMENTS) from None
    with source, Client(args.server, args.db, logging_level=args.log_level, window=window,
                        batch_size=batch_size) as client:
        lines = stream_lines(source)
        for result in client.job(qualified(args.server, args.function),
                                 checked(lines) if args.json else lines,
                                 timeout=args.timeout, ordered=args.ordered):
            write_line(output(result, args.json))
    return OK


def ask(args: argparse.Namespace, operation: str) -> dict:
    """The JSON answer of the cache service of `args.server` to `operation`."""
    import zmq.green as zmq
    from ..cache_client import CacheClient
    from ..log import get_logger, setup
    from ..wire.curve import cluster_keys
    setup(f"cli:{args.server}", args.log_level)
    client = CacheClient(args.server, args.db, zmq.Context.instance(), str(uuid.uuid4()),
                         log=get_logger(f"cli:{args.server}", operation), keys=cluster_keys())
    try:
        answer = client.request(operation, "", b"", args.timeout)
    finally:
        client.close()
    try:
        return json.loads(answer)
    except ValueError:
        raise Failure(f"the server's answer to {operation!r} is not JSON "
                      "(an older greenpylm?)") from None


def cmd_stats(args: argparse.Namespace) -> int:
    stats = ask(args, "stats")
    if stats.get("name") != args.server:
        raise Failure(f"the server at {args.db} is {stats.get('name')!r}, not {args.server!r}")
    write_line(json.dumps(stats, indent=2, sort_keys=True))
    return OK


def cmd_methods(args: argparse.Namespace) -> int:
    listing = ask(args, "methods")
    if listing.get("name") != args.server:
        raise Failure(f"the server at {args.db} is {listing.get('name')!r}, not {args.server!r}")
    methods = listing.get("methods", {})
    if not methods:
        write_line(f"{args.server} has no methods its clients may call"
                   + (" (no worker has joined it yet)" if listing.get("from_workers") else ""))
    for name in sorted(methods):
        entry = methods[name]
        where = f"  (workers: {', '.join(sorted(entry['workers']))})" if entry.get("workers") else ""
        write_line(f"{args.server}.{name}{where}")
        for line in (entry.get("doc") or "(no docstring)").strip().splitlines():
            write_line("    " + line.strip())
    return OK
