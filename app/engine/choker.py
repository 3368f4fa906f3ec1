"""Whom to upload to: tit-for-tat plus one optimistic unchoke (BEP 3 "Choking").

Pure: the caller passes `now` and every connected peer's rates; the choker answers with
the set of peers to unchoke. Everyone else is choked.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Final

# BEP 3 mainline: a newly connected peer is three times as likely to be the optimistic unchoke.
NEW_PEER_WEIGHT: Final = 3


@dataclass(frozen=True, slots=True)
class ChokeCandidate:
    key: Hashable
    interested: bool  # the peer is interested in us
    down_rate: float  # bytes/s we receive from it
    up_rate: float  # bytes/s we send to it


class Choker:
    """Unchoke the `slots - 1` best interested peers plus one optimistic unchoke.

    Downloading, "best" is the peers that give us data fastest (tit-for-tat); seeding, it
    is the peers that take data fastest. Peers that are not interested take no slot.
    """

    def __init__(
        self,
        slots: int = 4,
        *,
        rng: random.Random | None = None,
        rechoke_interval: float = 10.0,
        optimistic_interval: float = 30.0,
    ) -> None:
        if slots < 1:
            raise ValueError("the choker needs at least one upload slot")
        self._slots = slots
        self._rng = rng if rng is not None else random.Random()
        self._rechoke_interval = rechoke_interval
        self._optimistic_interval = optimistic_interval
        self._next_rechoke = float("-inf")
        self._regular: frozenset[Hashable] = frozenset()
        self._optimistic: Hashable | None = None
        self._optimistic_until = float("-inf")
        self._first_seen: dict[Hashable, float] = {}

    @property
    def slots(self) -> int:
        return self._slots

    def set_slots(self, slots: int) -> None:
        """A new number of upload slots (a setting changed); the next rechoke comes at once."""
        if slots < 1:
            raise ValueError("the choker needs at least one upload slot")
        self._slots = slots
        self._next_rechoke = float("-inf")

    def due(self, now: float) -> bool:
        """Is a periodic rechoke due? (BEP 3: every ten seconds, to avoid fibrillation.)"""
        return now >= self._next_rechoke

    def decide(
        self, now: float, candidates: Sequence[ChokeCandidate], seeding: bool
    ) -> frozenset[Hashable]:
        """The peers to unchoke, out of every connected peer in `candidates`.

        A periodic call (when `due`) ranks everyone afresh. An off-schedule call only fills
        free slots: it chokes nobody who still deserves a slot, and leaves the optimistic
        unchoke and its rotation timer alone.
        """
        periodic = self.due(now)
        if periodic:
            self._next_rechoke = now + self._rechoke_interval
        self._first_seen = {c.key: self._first_seen.get(c.key, now) for c in candidates}
        ranked = self._rank(candidates, seeding)
        self._regular = frozenset(self._fill_regular(ranked, periodic))
        pool = [key for key in ranked if key not in self._regular]
        optimistic = self._optimistic_among(now, pool)
        return self._regular | ({optimistic} if optimistic is not None else set())

    def _fill_regular(self, ranked: list[Hashable], periodic: bool) -> list[Hashable]:
        """The `slots - 1` best; off-schedule, the current ones keep their slots first."""
        if periodic:
            return ranked[: self._slots - 1]
        kept = [key for key in ranked if key in self._regular]
        fresh = [key for key in ranked if key not in self._regular and key != self._optimistic]
        return (kept + fresh)[: self._slots - 1]

    def _rank(self, candidates: Sequence[ChokeCandidate], seeding: bool) -> list[Hashable]:
        """Interested peers, fastest first; equal rates in random order."""
        interested = [c for c in candidates if c.interested]
        self._rng.shuffle(interested)
        interested.sort(key=attrgetter("up_rate" if seeding else "down_rate"), reverse=True)
        return [c.key for c in interested]

    def _optimistic_among(self, now: float, pool: list[Hashable]) -> Hashable | None:
        """Keep the optimistic unchoke for its interval, then rotate to another peer."""
        if self._optimistic in pool and now < self._optimistic_until:
            return self._optimistic
        choices = [key for key in pool if key != self._optimistic] or pool
        if not choices:
            self._optimistic = None
            return None
        weights = [NEW_PEER_WEIGHT if self._is_new(key, now) else 1 for key in choices]
        self._optimistic = self._rng.choices(choices, weights)[0]
        self._optimistic_until = now + self._optimistic_interval
        return self._optimistic

    def _is_new(self, key: Hashable, now: float) -> bool:
        """Connected during the current rotation: it has not had its turn yet."""
        return now - self._first_seen[key] < self._optimistic_interval
