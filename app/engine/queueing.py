"""Which torrents may run: the download and seed queues, and when seeding has done enough.

Pure: the caller describes every torrent that wants to run (running now or waiting in the
queue) and gets back which to start and which to send back to the queue. The queue is
strictly by position: the first `max_downloads` torrents that still download and the first
`max_seeds` complete ones run, the others wait and show "Queued".
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

NO_LIMIT = 0

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class QueueEntry(Generic[K]):
    key: K
    position: int  # lower runs first
    complete: bool  # every wanted piece is verified: it would seed
    running: bool  # started (not waiting in the queue)


@dataclass(frozen=True, slots=True)
class QueueLimits:
    max_downloads: int = NO_LIMIT  # 0: no limit
    max_seeds: int = NO_LIMIT


@dataclass(frozen=True, slots=True)
class QueuePlan(Generic[K]):
    active: frozenset[K]  # every torrent that may run now
    start: tuple[K, ...]  # waiting, and now within the limits
    queue: tuple[K, ...]  # running, and now beyond the limits


def plan_queue(entries: Sequence[QueueEntry[K]], limits: QueueLimits) -> QueuePlan[K]:
    counts = {False: 0, True: 0}
    active: set[K] = set()
    for entry in sorted(entries, key=lambda e: e.position):
        limit = limits.max_seeds if entry.complete else limits.max_downloads
        if limit == NO_LIMIT or counts[entry.complete] < limit:
            counts[entry.complete] += 1
            active.add(entry.key)
    return QueuePlan(
        active=frozenset(active),
        start=tuple(e.key for e in entries if e.key in active and not e.running),
        queue=tuple(e.key for e in entries if e.key not in active and e.running),
    )


@dataclass(frozen=True, slots=True)
class SeedingGoal:
    ratio: float = 0.0  # stop once uploaded / downloaded reaches this; 0: never
    seconds: float = 0.0  # stop after seeding this long; 0: never

    def reached(self, ratio: float, seeded_seconds: float) -> bool:
        return (0 < self.ratio <= ratio) or (0 < self.seconds <= seeded_seconds)

    def overridden(self, ratio: float | None, seconds: float | None) -> SeedingGoal:
        """A torrent's own goal: each part it sets (0 for never) replaces the session's."""
        return SeedingGoal(self.ratio if ratio is None else ratio, self.seconds if seconds is None else seconds)


def share_ratio(uploaded: int, downloaded: int, size: int) -> float:
    """Uploaded over downloaded; a torrent seeded from data it already had counts its size."""
    base = downloaded or size
    return uploaded / base if base else 0.0
