"""Incoming-query rate limits, per source IP and overall, pure: the caller passes `now`.

A DHT node answers anyone, so a flood from one address (or many) must cost us little:
queries beyond the limit are dropped unanswered, as libtorrent does (dht_block_ratelimit).
"""

from __future__ import annotations

from dataclasses import dataclass

BURST_SECONDS = 2.0  # a bucket holds this many seconds' worth of queries
MAX_SOURCES = 10_000  # IPs tracked at once; the oldest is forgotten beyond that


@dataclass(slots=True)
class _TokenBucket:
    level: float
    updated: float

    def take(self, rate: float, now: float) -> bool:
        capacity = rate * BURST_SECONDS
        self.level = min(capacity, self.level + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.level < 1.0:
            return False
        self.level -= 1.0
        return True


class QueryRateLimiter:
    """Allows at most `per_ip_rate` queries a second from one IP and `rate` from everyone."""

    def __init__(self, rate: float, per_ip_rate: float, now: float) -> None:
        self._rate = rate
        self._per_ip_rate = per_ip_rate
        self._overall = _TokenBucket(rate * BURST_SECONDS, now)
        self._sources: dict[str, _TokenBucket] = {}

    def allow(self, ip: str, now: float) -> bool:
        source = self._sources.get(ip)
        if source is None:
            source = self._sources[ip] = _TokenBucket(self._per_ip_rate * BURST_SECONDS, now)
            if len(self._sources) > MAX_SOURCES:
                del self._sources[next(iter(self._sources))]
        return source.take(self._per_ip_rate, now) and self._overall.take(self._rate, now)
