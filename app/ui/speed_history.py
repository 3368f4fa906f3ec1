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
        # Plain (time, down, up) tuples: a thousand torrents may record at every tick.
        self._samples: dict[str, deque[tuple[float, float, float]]] = {}

    def record(self, key: str, now: float, down: float, up: float) -> None:
        samples = self._samples.get(key)
        if samples is None:
            samples = self._samples[key] = deque()
        elif samples[-1][1] == down and samples[-1][2] == up:
            return
        samples.append((now, down, up))
        # Keep one sample older than the window: the line must start at the window's edge.
        while len(samples) > 1 and samples[1][0] <= now - self.window:
            samples.popleft()

    def samples(self, key: str, now: float) -> list[SpeedSample]:
        """The samples within the window, the last one carried forward to `now`."""
        stored = self._samples.get(key)
        if not stored:
            return []
        start = now - self.window
        inside = [SpeedSample(*sample) for sample in stored if sample[0] >= start]
        older = [sample for sample in stored if sample[0] < start]
        if older:
            inside.insert(0, SpeedSample(start, older[-1][1], older[-1][2]))
        inside.append(SpeedSample(now, stored[-1][1], stored[-1][2]))
        return inside

    def forget(self, key: str) -> None:
        self._samples.pop(key, None)
