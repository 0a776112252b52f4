"""``greenpylm dashboard`` and ``greenpylm top``: a running cluster, watched.

Both take the servers as NAME=DB_ADDR (their cache services); a master's
workers are found through it. ``top`` prints the table the dashboard shows,
every interval (``--count N``: N times, then exit).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .common import BAD_ARGUMENTS, CLIENT_LOG_LEVEL, OK, Failure, address, log_level, \
    positive, seconds, write_line

CLEAR = "\x1b[H\x1b[2J"  # home and clear, for a terminal


def server_pair(text: str) -> tuple[str, str]:
    name, equals, db = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=DB_ADDR, not {text!r}")
    return name, address(db)


def add_commands(commands: Any) -> None:
    """Add dashboard and top to the subcommands `commands`."""
    for name, handler, help in (
            ("dashboard", cmd_dashboard, "serve a live web page of a cluster, /metrics, /health"),
            ("top", cmd_top, "a live table of a cluster in the terminal")):
        c = commands.add_parser(name, help=help, description=help + ". Servers are given "
                                "as NAME=DB_ADDR; a master's workers are found through it.")
        c.add_argument("servers", metavar="NAME=DB_ADDR", nargs="+", type=server_pair)
        c.add_argument("--interval", type=seconds, default=1.0, metavar="S",
                       help="seconds between two readings (default 1)")
        c.add_argument("--log-level", type=log_level, default=CLIENT_LOG_LEVEL, metavar="L")
        c.set_defaults(handler=handler)
        if name == "dashboard":
            c.add_argument("--listen", default="http://127.0.0.1:8080", metavar="URL",
                           help="where the page is served (default http://127.0.0.1:8080; "
                                "anyone who reaches it sees the figures)")
        else:
            c.add_argument("--count", type=positive, metavar="N",
                           help="print N tables, then exit (default: until Ctrl-C)")


def servers_of(args: argparse.Namespace) -> dict[str, str]:
    servers = dict(args.servers)
    if len(servers) != len(args.servers):
        raise Failure("a server is named twice", BAD_ARGUMENTS)
    return servers


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ..dashboard import Dashboard
    try:
        dashboard = Dashboard(servers_of(args), args.listen, interval=args.interval,
                              log_level="INFO")
    except ValueError as exc:
        raise Failure(str(exc), BAD_ARGUMENTS) from None
    dashboard.start()
    return OK


def table(snapshot: dict) -> list[str]:
    """The lines ``top`` prints for `snapshot` (`ClusterWatch.snapshot`)."""
    def shown(value: Any) -> str:
        return "-" if value is None else str(value)

    lines = [f"{'server':<16} {'kind':<12} {'state':<6} {'in/s':>9} {'out/s':>9} "
             f"{'in flight':>9} {'waiting':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}"]
    workers = []
    for s in snapshot["servers"]:
        latency = s.get("worker_round_trip") or s.get("step") or {}
        lines.append(f"{s['name']:<16} {shown(s.get('kind')):<12} "
                     f"{'up' if s['up'] else 'down':<6} {shown(s.get('messages_in_per_s')):>9} "
                     f"{shown(s.get('messages_out_per_s')):>9} {shown(s.get('in_flight')):>9} "
                     f"{shown(s.get('waiting')):>8} {shown(s.get('errors')):>7} "
                     f"{shown(latency.get('p50_ms')):>8} {shown(latency.get('p99_ms')):>8}")
        if not s["up"]:
            lines.append(f"  {s.get('problem', 'not read yet')}")
        workers += [(s["name"], w) for w in s.get("workers", ())]
    if workers:
        lines.append("")
        lines.append(f"{'worker':<24} {'of':<16} {'capacity':>8} {'holding':>8} {'done':>10} "
                     f"{'done/s':>9}")
        for master, w in workers:
            lines.append(f"{w['name']:<24} {master:<16} {w['capacity']:>8} {w['holding']:>8} "
                         f"{w['done']:>10} {shown(w.get('done_per_s')):>9}")
    return lines


def cmd_top(args: argparse.Namespace) -> int:
    import gevent
    from ..log import setup
    from ..watch import ClusterWatch
    setup("watch", args.log_level)
    watch = ClusterWatch(servers_of(args), args.interval)
    terminal = sys.stdout.isatty()
    try:
        shown = 0
        while args.count is None or shown < args.count:
            watch.read()
            write_line((CLEAR if terminal else "") + "\n".join(table(watch.snapshot())))
            shown += 1
            if args.count is None or shown < args.count:
                gevent.sleep(max(0.0, watch.read_at + args.interval - time.monotonic()))
    finally:
        watch.close()
    return OK
