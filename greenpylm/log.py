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


def setup(server: str = "", level: int | str = DEFAULT_LEVEL, sink: Any = sys.stderr) -> None:
    """Register `server`'s level and make sure greenpylm's sink exists once."""
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
        logger.add(sink, level=0, filter=_wanted, format=FORMAT, backtrace=False, diagnose=False)


def get_logger(server: str, part: str = "-"):
    """A loguru logger bound to `server` and `part`."""
    return logger.bind(greenpylm=True, server=server or "-", part=part)


class Occurrences:
    """Counts events by kind and logs only the first of each kind (no line per message)."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.counts: Counter = Counter()

    def note(self, kind: str, text: str, *args: Any) -> None:
        self.counts[kind] += 1
        if self.counts[kind] == 1:
            self.log.warning(text + " (further ones are only counted)", *args)
