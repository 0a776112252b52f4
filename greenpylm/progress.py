"""A progress bar for long jobs: on a terminal only, with tqdm when it is installed."""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator


def progress_bar(results: Iterable[Any], total: int | None, stream: Any = None) -> Iterator[Any]:
    """Yield `results`, showing their count (of `total`) on `stream` (stderr)
    when it is a terminal; silent when it is not (a pipe, a file, CI)."""
    stream = stream or sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield from results
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield from _plain_bar(results, total, stream)
        return
    with tqdm(total=total, file=stream, unit="msg") as bar:
        for result in results:
            bar.update(1)
            yield result


def _plain_bar(results: Iterable[Any], total: int | None, stream: Any) -> Iterator[Any]:
    count, shown = 0, 0.0
    of = f"/{total}" if total else ""
    for result in results:
        count += 1
        now = time.monotonic()
        if now - shown > 0.1:
            stream.write(f"\r{count}{of} messages")
            stream.flush()
            shown = now
        yield result
    stream.write(f"\r{count}{of} messages\n")
    stream.flush()
