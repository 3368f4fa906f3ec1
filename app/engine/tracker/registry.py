"""The embedded tracker's memory, pure: peers per info-hash with expiry, and scrape counts."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.engine.tracker import compact
from app.engine.tracker.types import AnnounceEvent, ScrapeEntry

DEFAULT_NUMWANT = 50
MAX_NUMWANT = 200


@dataclass(frozen=True, slots=True)
class SwarmPeer:
    peer_id: bytes
    ip: str
    port: int
    left: int


@dataclass(slots=True)
class _Swarm:
    peers: dict[bytes, tuple[SwarmPeer, float]] = field(
        default_factory=dict
    )  # peer id -> (peer, expiry)
    downloaded: int = 0  # 'completed' events seen

    def expire(self, now: float) -> None:
        for peer_id in [pid for pid, (_, expires) in self.peers.items() if expires <= now]:
            del self.peers[peer_id]

    def counts(self) -> ScrapeEntry:
        seeds = sum(1 for peer, _ in self.peers.values() if peer.left == 0)
        return ScrapeEntry(
            complete=seeds, incomplete=len(self.peers) - seeds, downloaded=self.downloaded
        )


class SwarmRegistry:
    """Who is in which swarm; a peer that stops announcing is forgotten after `peer_ttl` seconds."""

    def __init__(self, *, peer_ttl: float, rng: random.Random | None = None) -> None:
        self._peer_ttl = peer_ttl
        self._rng = rng or random.Random()
        self._swarms: dict[bytes, _Swarm] = {}

    def announce(
        self,
        info_hash: bytes,
        peer: SwarmPeer,
        event: AnnounceEvent,
        numwant: int,
        now: float,
        family: int | None = None,
    ) -> tuple[list[SwarmPeer], ScrapeEntry]:
        """Record `peer`; return up to `numwant` others (of `family` if given) and the counts."""
        swarm = self._swarms.setdefault(info_hash, _Swarm())
        swarm.expire(now)
        if event is AnnounceEvent.STOPPED:
            swarm.peers.pop(peer.peer_id, None)
        else:
            swarm.peers[peer.peer_id] = (peer, now + self._peer_ttl)
        if event is AnnounceEvent.COMPLETED:
            swarm.downloaded += 1
        others = [p for p, _ in swarm.peers.values() if _is_other(p, peer, family)]
        wanted = DEFAULT_NUMWANT if numwant < 0 else min(numwant, MAX_NUMWANT)
        chosen = self._rng.sample(others, min(wanted, len(others)))
        counts = swarm.counts()
        if not swarm.peers and not swarm.downloaded:
            del self._swarms[info_hash]
        return chosen, counts

    def scrape(self, info_hashes: Iterable[bytes], now: float) -> dict[bytes, ScrapeEntry]:
        """Counts for the given torrents (zeros if unknown); every torrent if none are given."""
        wanted = list(info_hashes) or list(self._swarms)
        for swarm in self._swarms.values():
            swarm.expire(now)
        empty = _Swarm()
        return {info_hash: self._swarms.get(info_hash, empty).counts() for info_hash in wanted}


def _is_other(candidate: SwarmPeer, requester: SwarmPeer, family: int | None) -> bool:
    """Never hand a peer its own address (same id, or same endpoint under another id)."""
    if candidate.peer_id == requester.peer_id:
        return False
    if (candidate.ip, candidate.port) == (requester.ip, requester.port):
        return False
    return family is None or compact.address_family(candidate.ip) == family
