"""Peers announced to us with announce_peer (BEP 5), pure: the caller passes `now`.

Bounded on every axis, since anyone may announce: peers expire, each info-hash keeps its
most recent announcers, and the info-hashes announced least recently are dropped first.
"""

from __future__ import annotations

import random

from app.engine.dht.krpc import Address

PEER_TTL = 30 * 60.0  # peers re-announce every 15 minutes (libtorrent's dht_announce_interval)
MAX_PEERS_PER_INFO_HASH = 200
MAX_INFO_HASHES = 2000  # libtorrent's dht_max_torrents
MAX_VALUES = 50  # 50 values of 8 bytes keep a get_peers reply within one 1,400-byte datagram


class PeerStore:
    """info-hash -> the peers that announced it, each with the time of its last announce."""

    def __init__(
        self,
        *,
        ttl: float = PEER_TTL,
        max_peers: int = MAX_PEERS_PER_INFO_HASH,
        max_info_hashes: int = MAX_INFO_HASHES,
        rng: random.Random | None = None,
    ) -> None:
        self._ttl = ttl
        self._max_peers = max_peers
        self._max_info_hashes = max_info_hashes
        self._rng = rng or random.Random()
        self._swarms: dict[bytes, dict[Address, float]] = {}  # both in order of last announce

    def __len__(self) -> int:
        return len(self._swarms)

    def add(self, info_hash: bytes, peer: Address, now: float) -> None:
        swarm = self._swarms.pop(info_hash, {})
        swarm.pop(peer, None)
        swarm[peer] = now
        while len(swarm) > self._max_peers:
            del swarm[next(iter(swarm))]
        self._swarms[info_hash] = swarm
        while len(self._swarms) > self._max_info_hashes:
            del self._swarms[next(iter(self._swarms))]

    def peers(self, info_hash: bytes, now: float, limit: int = MAX_VALUES) -> list[Address]:
        """Up to `limit` live peers of `info_hash`, a random choice when there are more."""
        swarm = self._swarms.get(info_hash)
        if swarm is None:
            return []
        self._drop_expired(info_hash, swarm, now)
        live = list(swarm)
        return live if len(live) <= limit else self._rng.sample(live, limit)

    def expire(self, now: float) -> None:
        for info_hash, swarm in list(self._swarms.items()):
            self._drop_expired(info_hash, swarm, now)

    def _drop_expired(self, info_hash: bytes, swarm: dict[Address, float], now: float) -> None:
        for peer in [peer for peer, seen in swarm.items() if now - seen >= self._ttl]:
            del swarm[peer]
        if not swarm:
            del self._swarms[info_hash]
