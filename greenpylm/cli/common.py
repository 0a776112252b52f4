"""What the commands share: exit codes, one-line failures, argument types, output."""
from __future__ import annotations

import argparse
import os
import pkgutil
import sys
from typing import Any

from ..wire.errors import RemoteError

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
    from ..log import level_number
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


# -- loading what to run -------------------------------------------------------
def load_class(target: str) -> type:
    """The class `target` ('module:Class') names, or a `Failure` saying why not."""
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
    """`exc` as one line: its type and the first line of its message."""
    if isinstance(exc, RemoteError):  # its str() carries the remote traceback
        message = exc.remote_message.strip().splitlines()
        return f"{exc.remote_type}: {message[0]}" if message else exc.remote_type
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


# -- output ------------------------------------------------------------------
def write_line(line: str | bytes) -> None:
    """Write `line` and a newline to stdout at once; bytes go out as they are."""
    out = sys.stdout.buffer
    out.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
    out.flush()
