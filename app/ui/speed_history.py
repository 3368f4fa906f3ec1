"""Download and upload rates over the last minutes, per torrent and for the whole session.

A sample is stored only when a rate changes, so idle torrents cost nothing per tick.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

SESSION = ""  # the key of the whole session's rates


@dataclass(frozen=True, slots=True)
class SpeedSample:
    time: float  # monotonic seconds
    down: float  # bytes/s
    up: float


class SpeedHistory:
    def __init__(self, window: float = 300.0) -> None:
        self.window = window
        self._samples: dict[str, deque[SpeedSample]] = {}

    def record(self, key: str, now: float, down: float, up: float) -> None:
        samples = self._samples.setdefault(key, deque())
        if samples and samples[-1].down == down and samples[-1].up == up:
            return
        samples.append(SpeedSample(now, down, up))
        # Keep one sample older than the window: the line must start at the window's edge.
        while len(samples) > 1 and samples[1].time <= now - self.window:
            samples.popleft()

    def samples(self, key: str, now: float) -> list[SpeedSample]:
        """The samples within the window, the last one carried forward to `now`."""
        stored = self._samples.get(key)
        if not stored:
            return []
        start = now - self.window
        inside = [s for s in stored if s.time >= start]
        older = [s for s in stored if s.time < start]
        if older:
            inside.insert(0, SpeedSample(start, older[-1].down, older[-1].up))
        last = stored[-1]
        inside.append(SpeedSample(now, last.down, last.up))
        return inside

    def forget(self, key: str) -> None:
        self._samples.pop(key, None)
