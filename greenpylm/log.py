"""Logging through greenpylm's own loguru logger, bound to server and part names.

Importing greenpylm configures nothing, and greenpylm never touches the
application's ``loguru.logger`` or `logging`: its records go through
`logger`, a loguru logger with a core of its own, each carrying
``extra['server']`` and ``extra['part']``. The first server or client
(`setup`) gives them one output, filtered by each server's ``log_level``:
`FORMAT` lines on stderr (the default, `to_stderr`), JSON lines (`to_json`,
``GREENPYLM_LOG=json``), the standard library's `logging` (`to_logging`,
``GREENPYLM_LOG=logging``), a sink of the application's (`setup(sink=...)`)
or none (`setup(sink=None)`). ``GREENPYLM_LOG_LEVEL`` sets the level of
every server and client in the process, whatever they were given.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
from collections import Counter
from typing import Any

from loguru import logger as shared_logger

FORMAT = ("<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
          "<cyan>{extra[server]}</cyan>.<cyan>{extra[part]}</cyan> - {message}")
DEFAULT_LEVEL = "INFO"
#: the environment variable that chooses the output when the code does not
OUTPUT_VARIABLE = "GREENPYLM_LOG"
#: the environment variable whose level overrides every server's and client's
LEVEL_VARIABLE = "GREENPYLM_LOG_LEVEL"


def _own_logger() -> tuple[Any, bool]:
    """A loguru logger with a core (handlers, levels) of its own, and whether
    it is the application's ``loguru.logger`` after all."""
    # HACK: loguru has no public way to make a second logger with its own core
    # (copy.deepcopy(loguru.logger) fails while handler 0 holds stderr). This is
    # what loguru 0.7's own __init__ does to make ``loguru.logger``; the
    # constructor is private and may change.
    try:
        from loguru._logger import Core, Logger
        own = Logger(core=Core(), exception=None, depth=0, record=False, lazy=False,
                     colors=False, raw=False, capture=True, patchers=[], extra={})
    except (ImportError, TypeError):
        # Another loguru: fall back to the application's logger, with greenpylm's
        # old behaviour (`_spare_default_handler` re-adds its handler 0 filtered).
        return shared_logger, True
    atexit.register(own.remove)  # as loguru does for its own: close file sinks
    return own, False


#: greenpylm's loguru logger (an application may add sinks of its own to it)
logger, _SHARED = _own_logger()

_levels: dict[str, int] = {}
_fallback = 20          # the level of servers that never called `setup`
_handlers: list[int] = []   # the handlers of greenpylm's output, in `logger`
_chosen = False         # an output was chosen (by code, or by the first `setup`)
_spared = False         # (shared logger only) handler 0 was made to skip our records


def level_number(level: int | str) -> int:
    """loguru's number for `level`; pylm's ``logging`` ints map as they are."""
    if isinstance(level, int):
        return level
    return logger.level(level.upper()).no


def _forced_level() -> int | None:
    """The level ``$GREENPYLM_LOG_LEVEL`` names (None when unset)."""
    text = os.environ.get(LEVEL_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return level_number(int(text) if text.isdigit() else text)
    except ValueError:
        raise ValueError(f"{LEVEL_VARIABLE}={text!r} is not a log level: say DEBUG, INFO, "
                         "WARNING, ERROR, CRITICAL or a number") from None


def _wanted(record: dict) -> bool:
    extra = record["extra"]
    if not extra.get("greenpylm"):
        return False
    threshold = _levels.get(extra.get("server", ""), _levels.get("", _fallback))
    return record["level"].no >= threshold


def _not_ours(record: dict) -> bool:
    return not record["extra"].get("greenpylm")


def _spare_default_handler() -> None:
    """(Shared logger only.) loguru's default handler (id 0) would print our
    DEBUG records too: replace it with one that leaves them to our output."""
    global _spared
    if _spared:
        return
    _spared = True
    try:
        shared_logger.remove(0)
        shared_logger.add(sys.stderr, filter=_not_ours)
    except ValueError:
        pass  # the application already configured loguru itself


def _use(sink: Any, **options: Any) -> None:
    """Make `sink` (a loguru sink; None: nothing) greenpylm's only output."""
    global _chosen
    _chosen = True
    for handler in _handlers:
        try:
            logger.remove(handler)
        except ValueError:
            pass  # someone removed it already
    _handlers.clear()
    if _SHARED:
        _spare_default_handler()
    if sink is not None:
        options.setdefault("format", FORMAT)
        _handlers.append(logger.add(sink, level=0, filter=_wanted, backtrace=False,
                                    diagnose=False, **options))


def _use_default() -> None:
    """The output ``$GREENPYLM_LOG`` names: stderr (unset), json or logging."""
    choice = os.environ.get(OUTPUT_VARIABLE, "").strip().lower() or "stderr"
    outputs = {"stderr": to_stderr, "json": to_json, "logging": to_logging}
    if choice not in outputs:
        raise ValueError(f"{OUTPUT_VARIABLE}={choice!r} is not an output: say stderr, "
                         "json or logging")
    outputs[choice]()


def setup(server: str = "", level: int | str = DEFAULT_LEVEL, sink: Any = "stderr") -> None:
    """Register `server`'s level (``$GREENPYLM_LOG_LEVEL`` instead, if set) and
    make sure greenpylm has an output. `sink`: ``"stderr"``, the output chosen
    so far, else the default (``$GREENPYLM_LOG``; unset: `FORMAT` lines on the
    process's stderr at that moment); None: no output; anything else: that
    loguru sink, with `FORMAT`, instead of any output chosen before."""
    global _fallback
    forced = _forced_level()
    if forced is not None:
        _fallback = forced
    _levels[server] = level_number(level) if forced is None else forced
    if not (isinstance(sink, str) and sink == "stderr"):
        _use(sink)
    elif not _chosen:
        _use_default()


def to_stderr() -> None:
    """Write greenpylm's records as `FORMAT` lines on the process's stderr
    (as it is at this moment): the default output."""
    _use(sys.stderr)


def to_json(sink: Any = "stderr") -> None:
    """Write greenpylm's records as one JSON object per line (loguru's
    ``serialize=True``: the `FORMAT` line is ``text``, the fields ``record``)
    to stderr or `sink`, filtered by each server's level."""
    _use(sys.stderr if isinstance(sink, str) and sink == "stderr" else sink,
         serialize=True, colorize=False)


def to_logging() -> None:
    """Hand greenpylm's records (those its servers' levels let through) to the
    standard library's `logging`, to the logger `logger_name` names, with
    ``server`` and ``part`` attributes; nothing goes to stderr any more."""
    _use(_forward, format="{message}")


def logger_name(server: str) -> str:
    """The `logging` logger of `server`'s records: ``greenpylm.<server>``,
    a dot in the name made ``_`` (the name stays one level of the tree)."""
    return "greenpylm." + server.replace(".", "_")


def _forward(message: Any) -> None:
    """loguru's sink for `to_logging`: one of our records, made a LogRecord."""
    record = message.record
    names = {"server": record["extra"].get("server", "-"),
             "part": record["extra"].get("part", "-")}
    std = logging.getLogger(logger_name(names["server"]))
    level = record["level"].no
    if not std.isEnabledFor(level):
        return
    exception = record["exception"]
    info = (exception.type, exception.value, exception.traceback) if exception else None
    std.handle(std.makeRecord(std.name, level, record["file"].path, record["line"],
                              record["message"], (), info, record["function"], names))


def get_logger(server: str, part: str = "-") -> Any:
    """greenpylm's loguru logger bound to `server` and `part`."""
    if not _chosen:
        _use_default()  # a record before any server's `setup` has somewhere to go
    return logger.bind(greenpylm=True, server=server or "-", part=part)


_STD_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


class StdLogger:
    """A stdlib-style logger (pylm's ``self.logger``) writing through loguru.

    ``logger.info('Processed %d messages', n)`` formats as `logging` does
    (``%``-arguments, braces left alone) and the record goes to the same
    output as greenpylm's own (stderr, JSON, `logging`), bound to the same
    server and part names and filtered by the same `log_level`.
    """

    def __init__(self, bound: Any, name: str = "-") -> None:
        self.bound = bound
        self.name = name

    def log(self, level: int | str, msg: Any, *args: Any, exc_info: Any = None,
            stacklevel: int = 1, **_stdlib_only: Any) -> None:
        """Log `msg % args` at `level` (a `logging` number or a loguru name)."""
        text = str(msg) % args if args else str(msg)
        if isinstance(level, int):
            level = _STD_LEVELS.get(level, level)
        exception = exc_info if isinstance(exc_info, BaseException) else bool(exc_info)
        self.bound.opt(depth=1 + stacklevel, exception=exception or None).log(level, "{}", text)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log `msg % args` at DEBUG."""
        self.log(10, msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log `msg % args` at INFO."""
        self.log(20, msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log `msg % args` at WARNING."""
        self.log(30, msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log `msg % args` at ERROR."""
        self.log(40, msg, *args, stacklevel=2, **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log `msg % args` at CRITICAL."""
        self.log(50, msg, *args, stacklevel=2, **kwargs)

    warn, fatal = warning, critical

    def exception(self, msg: Any, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        """Log at ERROR with the exception being handled."""
        self.log(40, msg, *args, exc_info=exc_info, stacklevel=2, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        """True: greenpylm's output filters by each server's `log_level`."""
        return True


class HasLogger:
    """Gives ``self.logger`` (a `StdLogger`) to whatever has ``self.log`` (loguru)."""

    log: Any

    @property
    def logger(self) -> StdLogger:
        """pylm's logger: stdlib-style methods, greenpylm's output."""
        adapter = self.__dict__.get("_std_logger")
        if adapter is None or adapter.bound is not self.log:
            adapter = self.__dict__["_std_logger"] = StdLogger(self.log, getattr(self, "name", "-"))
        return adapter


class Occurrences:
    """Counts events by kind and logs only the first of each kind (no line per
    message). `counts` is where they are counted: a server's statistics (so
    they are served with them), or a counter of its own."""

    def __init__(self, log: Any, counts: Counter | None = None) -> None:
        self.log = log
        self.counts: Counter = Counter() if counts is None else counts

    def note(self, kind: str, text: str, *args: Any, level: str = "WARNING",
             exception: BaseException | None = None, amount: int = 1) -> bool:
        """Count `amount` events of `kind`; log `text` (loguru-formatted with
        `args`, at `level`, with the traceback of `exception`) if they are the
        first. Whether they were."""
        self.counts[kind] += amount
        first = self.counts[kind] == amount
        if first:
            self.log.opt(exception=exception).log(
                level, text + " (further ones are only counted)", *args)
        return first
