"""Logging through loguru, bound to server and part names.

Every record greenpylm writes carries ``extra['server']`` and
``extra['part']``. `setup` (called by every server and client) installs one
stderr sink for greenpylm's records that honours each server's
``log_level``, and keeps loguru's own default sink from printing them a
second time. An application that configures loguru itself can call
`setup(sink=None)` first to keep greenpylm out of stderr and add its own
sink filtering on ``record['extra'].get('greenpylm')``.
"""
from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from loguru import logger

FORMAT = ("<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <7}</level> | "
          "<cyan>{extra[server]}</cyan>.<cyan>{extra[part]}</cyan> - {message}")
DEFAULT_LEVEL = "INFO"

_levels: dict[str, int] = {}
_installed = False


def level_number(level: int | str) -> int:
    """loguru's number for `level`; pylm's ``logging`` ints map as they are."""
    if isinstance(level, int):
        return level
    return logger.level(level.upper()).no


def _wanted(record: dict) -> bool:
    extra = record["extra"]
    if not extra.get("greenpylm"):
        return False
    threshold = _levels.get(extra.get("server", ""), _levels.get("", 20))
    return record["level"].no >= threshold


def _not_ours(record: dict) -> bool:
    return not record["extra"].get("greenpylm")


def setup(server: str = "", level: int | str = DEFAULT_LEVEL, sink: Any = "stderr") -> None:
    """Register `server`'s level and make sure greenpylm's sink exists once
    (`sink`: ``"stderr"``, the process's stderr at that moment; None: none)."""
    global _installed
    number = level_number(level)
    _levels[server] = number
    if _installed:
        return
    _installed = True
    try:
        # loguru's default handler (id 0) would print our DEBUG records too:
        # replace it with one that leaves greenpylm's records to our sink.
        logger.remove(0)
        logger.add(sys.stderr, filter=_not_ours)
    except ValueError:
        pass  # the application already configured loguru itself
    if sink is not None:
        logger.add(sys.stderr if sink == "stderr" else sink, level=0, filter=_wanted, format=FORMAT, backtrace=False, diagnose=False)


def get_logger(server: str, part: str = "-"):
    """A loguru logger bound to `server` and `part`."""
    return logger.bind(greenpylm=True, server=server or "-", part=part)


_STD_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


class StdLogger:
    """A stdlib-style logger (pylm's ``self.logger``) writing through loguru.

    ``logger.info('Processed %d messages', n)`` formats as `logging` does
    (``%``-arguments, braces left alone) and the record goes through the
    same loguru sink as greenpylm's own, bound to the same server and part
    names and filtered by the same `log_level`.
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
        """True: the sink filters by each server's `log_level`."""
        return True


class HasLogger:
    """Gives ``self.logger`` (a `StdLogger`) to whatever has ``self.log`` (loguru)."""

    log: Any

    @property
    def logger(self) -> StdLogger:
        """pylm's logger: stdlib-style methods, greenpylm's loguru sink."""
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
