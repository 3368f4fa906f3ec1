"""The session's once-a-second tick of its running torrents (issue 19).

A torrent with something going on (peers, dials, web seeds, a metadata fetch) is ticked
every second. One with nothing to do (10,000 idle seeds) sleeps until the first thing it has
a timer for (its next DHT announce, a peer to dial again) or until something wakes it (a
tracker's peers, an incoming connection): the tick then costs what is busy, not what exists.
A sleeper is also woken at least every MAX_SLEEP seconds; its time counters (the seeding
time a goal counts, the time active) are brought up to date for a reader by `settle`.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import Final, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

TICK: Final = 1.0
MAX_SLEEP: Final = 300.0  # a missed wake costs at most this; readers `settle` the counters


class Ticked(Protocol):
    def count_time(self, elapsed: float) -> None: ...  # active and seeding seconds
    def tick(self, now: float, elapsed: float) -> None: ...
    def sleeps_until(self, now: float) -> float | None: ...  # None: it has work every second


T = TypeVar("T", bound=Ticked)


class Heartbeat(Generic[T]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._awake: dict[T, None] = {}
        self._last: dict[T, float] = {}  # when each torrent's time was last counted
        self._sleepers: list[tuple[float, int, T]] = []  # a heap by wake time
        self._wake_at: dict[T, int] = {}  # each sleeper's heap entry, by its number
        self._order = 0  # numbers the heap entries: ties never compare torrents
        self._task: asyncio.Task[None] | None = None
        self.visits = 0  # torrents ticked so far (the tests count them)

    def join(self, torrent: T) -> None:
        """Tick `torrent` from now on, until it leaves."""
        self._last[torrent] = self._clock()
        self._awake[torrent] = None
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def leave(self, torrent: T) -> None:
        self.settle(torrent)
        self._last.pop(torrent, None)
        self._awake.pop(torrent, None)
        self._wake_at.pop(torrent, None)

    def wake(self, torrent: T) -> None:
        """Something happened to a sleeping torrent: tick it at every beat again."""
        if self._wake_at.pop(torrent, None) is not None:
            self._awake[torrent] = None

    def settle(self, torrent: T) -> None:
        """Count the time of a torrent up to now, awake or asleep."""
        last = self._last.get(torrent)
        if last is not None:
            now = self._clock()
            torrent.count_time(now - last)
            self._last[torrent] = now

    @property
    def awake(self) -> int:
        return len(self._awake)

    def awake_torrents(self) -> list[T]:
        """The torrents ticked each second: among them every torrent with a peer (a peer wakes
        its torrent, which does not sleep while it has one)."""
        return list(self._awake)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)  # read each time: a test may shorten it
            self.beat(self._clock())

    def beat(self, now: float) -> None:
        self._wake_due(now)
        for torrent in list(self._awake):
            if torrent not in self._awake:
                continue  # it left during another's tick
            self.visits += 1
            try:
                self._tick(torrent, now)
            except Exception:  # one torrent's bug must not stop the others' ticks
                log.exception("a torrent's tick failed")

    def _tick(self, torrent: T, now: float) -> None:
        elapsed = now - self._last[torrent]
        self._last[torrent] = now
        torrent.count_time(elapsed)
        torrent.tick(now, elapsed)
        self._maybe_sleep(torrent, now)

    def _maybe_sleep(self, torrent: T, now: float) -> None:
        until = torrent.sleeps_until(now)
        if until is None or torrent not in self._awake:
            return
        until = min(until, now + MAX_SLEEP)
        del self._awake[torrent]
        self._order += 1
        self._wake_at[torrent] = self._order
        heapq.heappush(self._sleepers, (until, self._order, torrent))

    def _wake_due(self, now: float) -> None:
        while self._sleepers and self._sleepers[0][0] <= now:
            _, order, torrent = heapq.heappop(self._sleepers)
            if self._wake_at.get(torrent) == order:  # else woken or gone meanwhile
                del self._wake_at[torrent]
                self._awake[torrent] = None
