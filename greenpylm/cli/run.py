"""``greenpylm run MODULE:CLASS NAME --option value ...``: any kind of server.

The options of a class are read off its constructor (and, for its
``**options``, off `MethodRunner` and `ServerTemplate`): ``db_address``
becomes ``--db-address``, also spelt ``--db``; a list takes several values;
a flag is ``--pipelined`` / ``--no-pipelined``. ``--workers N`` starts N
worker processes beside the server (``--worker MODULE:CLASS``) or, for a
worker class, N of its own, and keeps them running until the command stops.
"""
from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

from .common import BAD_ARGUMENTS, OK, PROG, Failure, address, load_class, log_level, \
    one_line, positive

#: constructor parameters the command line cannot give (objects, not text)
NOT_OPTIONS = {"self", "name", "context", "cache", "ledger", "template"}
#: parameters of the base classes that a server class sets itself
SET_BY_THE_CLASS = {"messages", "pipelined"}


def add_command(commands: Any) -> None:
    run = commands.add_parser(
        "run", add_help=False,
        help="run any server or worker class until SIGTERM or Ctrl-C",
        description="Import MODULE, take its CLASS (a greenpylm server or worker, or a "
                    "subclass), build it with NAME and the options given, and run it until "
                    "SIGTERM or Ctrl-C stops it gracefully. The options are the class's "
                    "constructor arguments: run 'greenpylm run MODULE:CLASS --help' to see "
                    "them. The current directory is searched for MODULE, as are PYTHONPATH "
                    "and the installed packages.")
    run.add_argument("target", metavar="MODULE:CLASS", nargs="?",
                     help="what to run, e.g. greenpylm.servers:Master or myapp:MyServer")
    run.add_argument("name", metavar="NAME", nargs="?",
                     help="the server's name: clients call 'NAME.method'")
    run.add_argument("-h", "--help", action="store_true", help="show the options of CLASS")
    run.set_defaults(handler=cmd_run, parser=run)


def options_of(cls: type) -> list[inspect.Parameter]:
    """The constructor parameters of `cls` the command line can give."""
    own = inspect.signature(cls.__init__).parameters
    found = {n: p for n, p in own.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if any(p.kind == p.VAR_KEYWORD for p in own.values()):
        from ..methods import MethodRunner
        from ..parts.servers import ServerTemplate
        for base in (MethodRunner, ServerTemplate):
            if issubclass(cls, base):
                for n, p in inspect.signature(base.__init__).parameters.items():
                    if n not in found and p.default is not p.empty and n not in SET_BY_THE_CLASS:
                        found[n] = p
    return [p for n, p in found.items() if n not in NOT_OPTIONS]


def zmq_address(text: str) -> str:
    """A zmq address, or '' (a default meaning none)."""
    return text if text == "" else address(text)


def maybe_seconds(text: str) -> float | None:
    """A number of seconds, or 'none' for no limit."""
    if text.lower() in ("none", "never", "forever"):
        return None
    return float(text)


def add_option(parser: argparse.ArgumentParser, p: inspect.Parameter) -> None:
    """`p` as an option of `parser`, typed by its annotation."""
    flag = "--" + p.name.replace("_", "-")
    names = [flag]
    for suffix in ("_addresses", "_address"):
        if p.name.endswith(suffix) and p.name != "listen_address":
            names.append("--" + p.name[:-len(suffix)].replace("_", "-"))
            break
    kind = str(p.annotation)
    required = p.default is p.empty
    default = None if required else p.default
    shown = "" if required or default is None else f" (default {default})"
    options: dict[str, Any] = {"dest": p.name, "required": required,
                               "help": f"{p.name}: {kind}{shown}"}
    if p.name == "log_level":
        options.update(type=log_level, default=default, metavar="L")
    elif kind.startswith("bool"):
        options.update(action=argparse.BooleanOptionalAction, default=default)
    elif "list[" in kind:
        options.update(nargs="+", metavar="ADDR", default=default,
                       type=address if p.name.endswith("addresses") else str)
    elif "float" in kind:
        options.update(type=maybe_seconds if "None" in kind else float, default=default,
                       metavar="X")
    elif kind.startswith("int"):
        options.update(type=int, default=default, metavar="N")
    else:
        checked = p.name.endswith("_address") and p.name != "listen_address"
        options.update(type=zmq_address if checked else str, default=default,
                       metavar="ADDR" if p.name.endswith("address") else "TEXT")
    parser.add_argument(*names, **options)


def class_parser(target: str, cls: type, params: list[inspect.Parameter],
                 takes_workers: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{PROG} run {target}", usage="%(prog)s NAME [options]",
                                description=inspect.getdoc(cls) or None)
    for param in params:
        add_option(p, param)
    if takes_workers:
        p.add_argument("--workers", type=positive, metavar="N",
                       help="start N worker processes and restart any that crashes")
    if takes_workers == "beside":
        p.add_argument("--worker", metavar="MODULE:CLASS",
                       help="the class of the workers --workers starts")
    return p


def kind_of(cls: type, params: list[inspect.Parameter]) -> str:
    """'worker' (its processes are copies), 'beside' (a master: workers join it),
    or '' (no workers)."""
    from ..servers import Worker
    if issubclass(cls, Worker):
        return "worker"
    return "beside" if any(p.name == "worker_push_address" for p in params) else ""


def cmd_run(args: argparse.Namespace, rest: list[str]) -> int:
    from ..parts.servers import ServerTemplate
    if args.target is None:
        args.parser.print_help()
        return OK if args.help else BAD_ARGUMENTS
    cls = load_class(args.target)
    if not issubclass(cls, ServerTemplate):
        raise Failure(f"{args.target} is not a greenpylm server or worker class (a "
                      "subclass of greenpylm.parts.servers.ServerTemplate)", BAD_ARGUMENTS)
    params = options_of(cls)
    workers = kind_of(cls, params)
    parser = class_parser(args.target, cls, params, workers)
    if args.help:
        parser.print_help()
        return OK
    if args.name is None:
        parser.error("NAME is required")
    options = vars(parser.parse_args(rest))
    count = options.pop("workers", None)
    worker_class = options.pop("worker", None)
    if workers == "beside" and (count is None) != (worker_class is None):
        parser.error("--workers and --worker go together")
    if workers == "worker" and count:
        return supervise_only(args, rest, count)
    try:
        server = cls(args.name, **options)
    except (TypeError, ValueError) as exc:
        raise Failure(f"{args.target}: {one_line(exc)}", BAD_ARGUMENTS) from None
    if not count:
        server.start()
        return OK
    return run_with_workers(server, worker_class, count, options.get("log_level"))


def worker_command(target: str, name: str, options: list[str]) -> list[str]:
    return [sys.executable, "-m", "greenpylm", "run", target, name, *options]


def without_workers(rest: list[str]) -> list[str]:
    """The options `rest` without ``--workers N`` (the children's own)."""
    out, skip = [], False
    for item in rest:
        if skip:
            skip = False
        elif item == "--workers":
            skip = True
        elif not item.startswith("--workers="):
            out.append(item)
    return out


def supervise_only(args: argparse.Namespace, rest: list[str], count: int) -> int:
    """N processes of a worker class, named NAME-1 ... NAME-N, kept running."""
    from .supervise import Supervisor
    commands = [worker_command(args.target, f"{args.name}-{i}", without_workers(rest))
                for i in range(1, count + 1)]
    Supervisor(commands, args.name).run_until_signal()
    return OK


def run_with_workers(server: Any, worker_class: str, count: int, level: Any) -> int:
    """`server` here, `count` processes of `worker_class` joining it, until a signal."""
    from .supervise import Supervisor
    load_class(worker_class)  # fail now, with one line, not in every child
    server.spawn()
    db = server.cache["db_address"].decode()  # where it bound (a port of '*' is known now)
    extra = ["--log-level", str(level)] if level is not None else []
    commands = [worker_command(worker_class, f"{server.name}-worker-{i}", ["--db", db, *extra])
                for i in range(1, count + 1)]
    try:
        Supervisor(commands, server.name).run_until_signal(server.join)
    finally:
        server.stop()
    return OK

