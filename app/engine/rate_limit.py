"""Rate limits: token buckets that let whole messages through, and the asyncio glue around them.

The bucket is pure (the caller passes `now`). A message is never split to fit the bucket:
it passes whole as soon as the bucket is not in debt, and the bucket goes into debt by its
size. Later messages wait until the debt is repaid, so the long-run rate is exact whatever
the message sizes. Uploads wait for their buckets before a batch of blocks is written;
downloads are counted as blocks arrive and the peer's socket stops being read while the
bucket is in debt, so TCP itself slows the sender down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

UNLIMITED: Final = 0
BURST_SECONDS: Final = 0.5  # how much of an idle second a bucket saves up
BATCH_SECONDS: Final = 0.05  # a limited upload is written in batches of this much of the rate
MIN_BATCH: Final = 16 * 1024 + 13  # one block and its `piece` header
_SLACK: Final = 1.0  # bytes: rounding in the refill must not cost an extra wake-up
MINUTES_PER_DAY: Final = 24 * 60


class TokenBucket:
    """`rate` bytes a second (0: no limit), with up to `rate * BURST_SECONDS` saved up."""

    __slots__ = ("rate", "burst", "tokens", "_last")

    def __init__(self, rate: float = UNLIMITED, *, now: float = 0.0) -> None:
        self.rate = float(rate)
        self.burst = self.rate * BURST_SECONDS
        self.tokens = self.burst
        self._last = now

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def set_rate(self, rate: float, now: float) -> None:
        self._refill(now)
        was_limited = self.limited
        self.rate = float(rate)
        self.burst = self.rate * BURST_SECONDS
        self.tokens = min(self.tokens, self.burst) if was_limited else self.burst

    def delay(self, now: float) -> float:
        """Seconds until a message may pass; 0.0 if it may pass now."""
        if not self.limited:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens > -_SLACK else -self.tokens / self.rate

    def consume(self, amount: int, now: float) -> None:
        """A message of `amount` bytes passed (it may take the bucket into debt)."""
        if self.limited:
            self._refill(now)
            self.tokens -= amount

    def _refill(self, now: float) -> None:
        if now > self._last:
            self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = max(self._last, now)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bytes per second, 0 for no limit."""

    down: int = UNLIMITED
    up: int = UNLIMITED


@dataclass(frozen=True, slots=True)
class AltSchedule:
    """When the alternative speed limits apply: some days of the week, between two times.

    `days` holds `datetime.weekday()` numbers (0 is Monday). A span that ends before it
    starts runs past midnight and belongs to the day it starts on (Friday 22:00 to 06:00
    runs into Saturday morning). A span that ends where it starts lasts the whole day.
    """

    days: frozenset[int]
    start_minute: int  # minutes after midnight, 0..1439
    end_minute: int

    def __post_init__(self) -> None:
        if not self.days <= set(range(7)):
            raise ValueError("days are weekday numbers from 0 (Monday) to 6 (Sunday)")
        for minute in (self.start_minute, self.end_minute):
            if not 0 <= minute < MINUTES_PER_DAY:
                raise ValueError(f"{minute} is not a minute of the day (0..1439)")

    def active(self, when: datetime) -> bool:
        minute = when.hour * 60 + when.minute
        day = when.weekday()
        start, end = self.start_minute, self.end_minute
        if start == end:
            return day in self.days
        if start < end:
            return day in self.days and start <= minute < end
        if minute >= start:
            return day in self.days
        return minute < end and (day - 1) % 7 in self.days


def current_limits(normal: Limits, alternative: Limits, alt_on: bool, schedule: AltSchedule | None,
                   when: datetime) -> Limits:
    """The limits in force: the alternative ones when switched on or when their schedule says so."""
    if alt_on or (schedule is not None and schedule.active(when)):
        return alternative
    return normal


class _Reader(Protocol):
    """A peer connection, as far as download throttling goes."""

    @property
    def transport(self) -> asyncio.Transport | None: ...

    @property
    def closed(self) -> bool: ...


class RateLimits:
    """The session's buckets: every torrent's traffic passes these as well as its own.

    `clock` and `sleep` are the time the buckets and upload waits use (tests pass fake ones).
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.clock, self.sleep = clock, sleep
        now = clock()
        self.down = TokenBucket(now=now)
        self.up = TokenBucket(now=now)

    def set(self, limits: Limits) -> None:
        _set_rates(self.down, self.up, limits, self.clock())

    def throttle(self, reading_blocked: Callable[[], bool] = lambda: False) -> Throttle:
        """A torrent's throttle; `reading_blocked` says when something else stopped reading."""
        return Throttle(self, reading_blocked)


class Throttle:
    """One torrent's buckets joined with the session's: what the torrent's peers wait on."""

    def __init__(self, session: RateLimits, reading_blocked: Callable[[], bool]) -> None:
        now = session.clock()
        self.down = TokenBucket(now=now)
        self.up = TokenBucket(now=now)
        self._session = session
        self._reading_blocked = reading_blocked
        self._held: set[_Reader] = set()  # peers whose reading we paused

    @property
    def limits(self) -> Limits:
        return Limits(int(self.down.rate), int(self.up.rate))

    def set_limits(self, limits: Limits) -> None:
        _set_rates(self.down, self.up, limits, self._session.clock())

    @property
    def session_limits(self) -> Limits:
        """The session's limits this torrent's traffic also passes."""
        return Limits(int(self._session.down.rate), int(self._session.up.rate))

    def batch_bytes(self, default: int) -> int:
        """How much to hand the socket at once: small batches keep a low limit smooth."""
        return _batch(default, self.up, self._session.up)

    def read_bytes(self, default: int) -> int:
        """How much to take from the socket at once, for the same reason."""
        return _batch(default, self.down, self._session.down)

    async def upload(self, nbytes: int) -> None:
        """Wait until both upload buckets let a message through, then charge it to them."""
        await self._pass(nbytes, (self.up, self._session.up))

    async def download(self, nbytes: int) -> None:
        """The same for bytes read by a reader without a transport to pause (a web seed's
        HTTP body): it waits before reading on."""
        await self._pass(nbytes, (self.down, self._session.down))

    async def _pass(self, nbytes: int, buckets: tuple[TokenBucket, TokenBucket]) -> None:
        while True:
            now = self._session.clock()
            wait = max(bucket.delay(now) for bucket in buckets)
            if wait <= 0:
                break
            await self._session.sleep(wait)
        for bucket in buckets:
            bucket.consume(nbytes, now)

    def received(self, peer: _Reader, nbytes: int) -> None:
        """Charge a received message; stop reading from the peer while a bucket is in debt."""
        now = self._session.clock()
        self.down.consume(nbytes, now)
        self._session.down.consume(nbytes, now)
        if peer in self._held or peer.transport is None:
            return
        wait = self._down_delay(now)
        if wait > 0:
            peer.transport.pause_reading()
            self._held.add(peer)
            asyncio.get_running_loop().call_later(wait, self._release, peer)

    def _down_delay(self, now: float) -> float:
        return max(self.down.delay(now), self._session.down.delay(now))

    def _release(self, peer: _Reader) -> None:
        wait = self._down_delay(self._session.clock())
        if wait > 0 and not peer.closed:
            asyncio.get_running_loop().call_later(wait, self._release, peer)  # others spent it
            return
        self._held.discard(peer)
        if peer.transport is not None and not peer.closed and not self._reading_blocked():
            peer.transport.resume_reading()


def _batch(default: int, *buckets: TokenBucket) -> int:
    rates = [bucket.rate for bucket in buckets if bucket.limited]
    if not rates:
        return default
    return max(MIN_BATCH, min(default, int(min(rates) * BATCH_SECONDS)))


def _set_rates(down: TokenBucket, up: TokenBucket, limits: Limits, now: float) -> None:
    if down.rate != limits.down:
        down.set_rate(limits.down, now)
    if up.rate != limits.up:
        up.set_rate(limits.up, now)
