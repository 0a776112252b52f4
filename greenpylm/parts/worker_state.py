"""`WorkerState`: what a master knows of one of its workers."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WorkerState:
    """What the master knows of one worker."""

    identity: bytes
    name: str
    capacity: int
    last_seen: float
    id: bytes = b""
    holds: set[int] = field(default_factory=set)  # tickets
    overtimes: int = 0  # its messages that ran past the time limit: it is served last
    done: int = 0  # messages it answered

    def figures(self, now: float) -> dict:
        """What the statistics show of this worker."""
        return {"name": self.name, "capacity": self.capacity, "holding": len(self.holds),
                "done": self.done, "over_time_limit": self.overtimes,
                "seen_s_ago": round(now - self.last_seen, 3)}

    @property
    def room(self) -> int:
        return self.capacity - len(self.holds)
