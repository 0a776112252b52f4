"""`Latencies`: a histogram of durations, cheap enough to fill per message.

Buckets are powers of two of microseconds (1 us, 2 us, ... about 36 min), so
adding one duration is an int conversion and an index; percentiles are read
off the buckets (each one's upper bound: at most twice the true value).
"""
from __future__ import annotations

BUCKETS = 32  # 2**31 us: about 36 minutes, the last bucket takes the rest


class Latencies:
    """Counts durations (seconds) in power-of-two buckets of microseconds."""

    __slots__ = ("counts", "total", "seconds")

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS
        self.total = 0
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        index = int(seconds * 1e6).bit_length()  # 0 for under 1 us; k for < 2**k us
        self.counts[index if index < BUCKETS else BUCKETS - 1] += 1
        self.total += 1
        self.seconds += seconds

    @staticmethod
    def bound(index: int) -> float:
        """The upper bound of bucket `index`, in seconds."""
        return (1 << index) / 1e6

    def percentile(self, fraction: float) -> float | None:
        """The duration (s) under which `fraction` of those counted fall; None for none."""
        if not self.total:
            return None
        wanted, seen = fraction * self.total, 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= wanted:
                return self.bound(index)
        return self.bound(BUCKETS - 1)

    def summary(self) -> dict:
        """Count, mean and p50/p90/p99 in milliseconds, for the statistics."""
        report: dict = {"count": self.total}
        if self.total:
            report["mean_ms"] = round(self.seconds / self.total * 1e3, 3)
            for name, fraction in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99)):
                report[name] = round(self.percentile(fraction) * 1e3, 3)
        return report

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, how many took at most that), for Prometheus."""
        out, seen = [], 0
        for index, count in enumerate(self.counts):
            seen += count
            out.append((self.bound(index), seen))
        return out
