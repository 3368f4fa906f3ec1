"""Pure BEP 12 announce-list logic: which tracker to ask next, with which event, and when.

No sockets and no clock: every method that needs the time takes `now` (monotonic seconds).
`TrackerManager` runs the rounds this class plans; the tests drive it with made-up times.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry

NOT_CONTACTED, ANNOUNCING, WORKING, ERROR = "not contacted", "announcing", "working", "error"
BACKOFF_BASE = 60.0  # a dead tracker is retried after 60 s, then 120 s ... up to an hour
BACKOFF_MAX = 3600.0
MIN_SCRAPE_GAP = 60.0  # a tracker that asks for no pause between announces is not scraped more often


@dataclass(slots=True)
class TrackerState:
    """What we know about one tracker URL; mutated only by `AnnounceList`."""

    url: str
    tier: int
    status: str = NOT_CONTACTED
    message: str = ""  # the last failure, or the tracker's warning
    seeds: int | None = None
    peers: int | None = None
    tracker_id: bytes | None = None
    failures: int = 0  # failures in a row
    retry_at: float = 0.0  # not asked again before this time (back-off)
    answered_at: float | None = None
    failed_at: float | None = None
    started: bool = False  # it accepted our 'started' and has not had 'stopped'
    started_as_leecher: bool = False
    completed_sent: bool = False
    scrape_at: float = math.inf  # when to scrape for the swarm's counts (inf: not needed)
    scrape_gap: float = 0.0  # the tracker's min interval (else its interval): how often to scrape


class AnnounceList:
    """Tiers of trackers, shuffled once within each tier (BEP 12), and the announce schedule."""

    def __init__(self, tiers: Sequence[Sequence[str]], rng: random.Random) -> None:
        self._rng = rng
        self._tiers: list[list[TrackerState]] = []
        self.add_tiers(tiers)
        self._next_at = 0.0  # the first announce is due at once
        self._forced_at: float | None = None
        self._reannounce_floor = 0.0  # the last answer's 'min interval' forbids asking earlier
        self._completed = False

    def add_tiers(self, tiers: Sequence[Sequence[str]]) -> None:
        """More tiers after the last one (a merge); URLs already listed are left out."""
        for fresh in new_tiers([[t.url for t in tier] for tier in self._tiers], tiers):
            urls = list(fresh)
            self._rng.shuffle(urls)  # BEP 12: shuffle each tier once, when the torrent starts
            self._tiers.append([TrackerState(url, len(self._tiers)) for url in urls])

    def trackers(self) -> list[TrackerState]:
        return [tracker for tier in self._tiers for tracker in tier]

    def due_at(self) -> float:
        """When the next round should start."""
        return min(self.announce_at(), self.scrape_at())

    def announce_at(self) -> float:
        return min(self._next_at, math.inf if self._forced_at is None else self._forced_at)

    def scrape_at(self) -> float:
        return min((tracker.scrape_at for tracker in self.trackers()), default=math.inf)

    def scrapes_due(self, now: float) -> list[TrackerState]:
        return [tracker for tracker in self.trackers() if tracker.scrape_at <= now]

    def begin_round(self, now: float) -> list[TrackerState]:
        """The trackers to try, in order, until one answers; those backing off are skipped."""
        self._forced_at = None
        return [tracker for tracker in self.trackers() if tracker.retry_at <= now]

    def event_for(self, tracker: TrackerState) -> AnnounceEvent:
        """BEP 3: 'started' first; 'completed' once, to a tracker that knew us as a leecher."""
        if not tracker.started:
            return AnnounceEvent.STARTED
        if self._completed and tracker.started_as_leecher and not tracker.completed_sent:
            return AnnounceEvent.COMPLETED
        return AnnounceEvent.NONE

    def announcing(self, tracker: TrackerState) -> None:
        tracker.status = ANNOUNCING

    def succeeded(
        self,
        tracker: TrackerState,
        request: AnnounceRequest,
        response: AnnounceResponse,
        now: float,
    ) -> None:
        """Record the answer; BEP 12: the tracker moves to the front of its tier."""
        tier = self._tiers[tracker.tier]
        tier.remove(tracker)
        tier.insert(0, tracker)
        if request.event is AnnounceEvent.STARTED:
            tracker.started, tracker.started_as_leecher = True, request.left > 0
        if request.event is AnnounceEvent.COMPLETED:
            tracker.completed_sent = True
        tracker.status, tracker.message = WORKING, response.warning
        tracker.failures, tracker.retry_at, tracker.answered_at = 0, 0.0, now
        self._count(tracker, response, now)
        tracker.tracker_id = (
            response.tracker_id or tracker.tracker_id
        )  # BEP 3: send it back next time
        self._next_at = now + max(response.interval, response.min_interval or 0)
        self._reannounce_floor = now + (response.min_interval or 0)

    @staticmethod
    def _count(tracker: TrackerState, response: AnnounceResponse, now: float) -> None:
        """The swarm's counts from the announce; an HTTP tracker may leave them out (BEP 3 makes
        them optional), then a scrape (BEP 48) asks for them, at once and every min interval."""
        tracker.scrape_gap = float(response.min_interval or response.interval)
        if response.complete is not None and response.incomplete is not None:
            tracker.seeds, tracker.peers = response.complete, response.incomplete
            tracker.scrape_at = math.inf
        elif tracker.scrape_at == math.inf:
            tracker.scrape_at = now

    def scraped(self, tracker: TrackerState, entry: ScrapeEntry | None, now: float) -> None:
        """A scrape's answer; None: it failed or left us out, so wait for the next announce."""
        if entry is None:
            tracker.scrape_at = math.inf
            return
        tracker.seeds, tracker.peers = entry.complete, entry.incomplete
        tracker.scrape_at = now + max(tracker.scrape_gap, MIN_SCRAPE_GAP)

    def failed(self, tracker: TrackerState, message: str, now: float) -> None:
        """Record the failure and back off: 60 s, doubling per failure in a row, at most an hour."""
        tracker.status, tracker.message, tracker.failed_at = ERROR, message, now
        tracker.failures += 1
        tracker.retry_at = now + min(BACKOFF_BASE * 2 ** (tracker.failures - 1), BACKOFF_MAX)

    def round_failed(self) -> None:
        """No tracker answered: the next round starts when the first one's back-off ends."""
        self._next_at = min((tracker.retry_at for tracker in self.trackers()), default=math.inf)

    def force(self, now: float) -> None:
        """The user asked to reannounce: now, dead trackers too, but not before 'min interval'."""
        for tracker in self.trackers():
            tracker.retry_at = min(tracker.retry_at, now)
        self._forced_at = max(now, self._reannounce_floor)

    def mark_completed(self, now: float) -> None:
        """The download finished: tell the trackers at once."""
        self._completed = True
        self._forced_at = now

    def started_trackers(self) -> list[TrackerState]:
        return [tracker for tracker in self.trackers() if tracker.started]

    def stopped(self, tracker: TrackerState) -> None:
        tracker.started = False

    def next_announce(self, tracker: TrackerState) -> float | None:
        """When this tracker may be asked next (monotonic), None if it has never been asked."""
        if tracker.status == WORKING:
            return self.announce_at()
        if tracker.status == ERROR:
            return max(tracker.retry_at, self.announce_at())
        return None


def new_tiers(current: Sequence[Sequence[str]], incoming: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """The tiers of `incoming` without the URLs that `current` (or an earlier tier) has."""
    seen = {url for tier in current for url in tier}
    tiers = []
    for urls in incoming:
        fresh = tuple(url for url in dict.fromkeys(urls) if url not in seen)
        seen.update(fresh)
        if fresh:
            tiers.append(fresh)
    return tuple(tiers)
