"""The iterative find_node / get_peers lookup (BEP 5), pure: the caller passes `now`.

The caller asks `next_queries(now)` whom to query, sends them find_node or get_peers, and
reports each answer with `on_response` or `on_failure`. A query unanswered after `timeout`
counts as failed; one unanswered after `slow_after` stops holding a parallel slot, so a
dead node delays the lookup by `slow_after`, not by `timeout` (as libtorrent does). The
lookup ends when the `k` closest nodes that have not failed have all answered: either they
are the true k closest, or nothing closer remains to ask.
"""

from __future__ import annotations

import bisect
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from app.engine.dht.krpc import Address, NodeInfo, Response
from app.engine.dht.routing_table import K, distance

ALPHA = 3  # BEP 5 leaves the parallelism open; Kademlia's alpha is 3
SLOW_AFTER = 1.0
TIMEOUT = 5.0


class _Status(Enum):
    WAITING = "waiting"
    IN_FLIGHT = "in flight"
    RESPONDED = "responded"
    FAILED = "failed"


@dataclass(slots=True)
class _Candidate:
    node: NodeInfo
    distance: int
    status: _Status = _Status.WAITING
    sent_at: float = 0.0
    token: bytes | None = None


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Peers met on the way, and the closest nodes that answered with the tokens they gave."""

    peers: tuple[Address, ...]
    nodes: tuple[NodeInfo, ...]  # the k closest that answered, nearest first
    tokens: tuple[tuple[NodeInfo, bytes], ...]  # BEP 5: announce_peer goes to these, with their token
    queries: int


class Lookup:
    """One lookup of `target`, started from `seeds` (usually the routing table's closest)."""

    def __init__(
        self,
        target: bytes,
        seeds: Iterable[NodeInfo],
        *,
        own_id: bytes | None = None,
        family: int = socket.AF_INET,
        alpha: int = ALPHA,
        k: int = K,
        slow_after: float = SLOW_AFTER,
        timeout: float = TIMEOUT,
    ) -> None:
        self.target = target
        self._own_id = own_id
        self._family = family  # BEP 32: a lookup follows the nodes of its own family only
        self._alpha, self._k = alpha, k
        self._slow_after, self._timeout = slow_after, timeout
        self._by_id: dict[bytes, _Candidate] = {}
        self._ordered: list[_Candidate] = []  # nearest first
        self._peers: dict[Address, None] = {}  # a set that keeps the order peers arrived in
        self._queries = 0
        self._add(seeds)

    @property
    def done(self) -> bool:
        return all(candidate.status is _Status.RESPONDED for candidate in self._window())

    def next_deadline(self, now: float) -> float | None:
        """When `next_queries` may have something new to say even if no answer arrives."""
        deadlines = [self._deadline_of(c, now) for c in self._ordered if c.status is _Status.IN_FLIGHT]
        return min(deadlines, default=None)

    def next_queries(self, now: float) -> list[NodeInfo]:
        """The nodes to query now; they count as in flight from `now`."""
        self._expire(now)
        active = sum(1 for c in self._ordered if c.status is _Status.IN_FLIGHT and now - c.sent_at < self._slow_after)
        chosen = [c for c in self._window() if c.status is _Status.WAITING][: max(0, self._alpha - active)]
        for candidate in chosen:
            candidate.status, candidate.sent_at = _Status.IN_FLIGHT, now
        self._queries += len(chosen)
        return [candidate.node for candidate in chosen]

    def on_response(self, node: NodeInfo, response: Response, now: float) -> None:
        """`node` answered (late answers to timed-out queries count too)."""
        candidate = self._by_id.get(node.node_id)
        if candidate is None or candidate.status not in (_Status.IN_FLIGHT, _Status.FAILED):
            return
        if response.sender_id != node.node_id:
            candidate.status = _Status.FAILED  # someone else answers at that address now
            return
        candidate.status, candidate.token = _Status.RESPONDED, response.token
        self._peers.update((peer, None) for peer in response.values if peer[1] != 0)
        self._add(response.nodes_of(self._family))

    def on_failure(self, node: NodeInfo, now: float) -> None:
        candidate = self._by_id.get(node.node_id)
        if candidate is not None and candidate.status is _Status.IN_FLIGHT:
            candidate.status = _Status.FAILED

    def result(self) -> LookupResult:
        nodes = [c for c in self._ordered if c.status is _Status.RESPONDED][: self._k]
        return LookupResult(
            peers=tuple(self._peers),
            nodes=tuple(c.node for c in nodes),
            tokens=tuple((c.node, c.token) for c in nodes if c.token is not None),
            queries=self._queries,
        )

    def _window(self) -> list[_Candidate]:
        """The k closest candidates that have not failed: the ones the lookup must hear from."""
        window = []
        for candidate in self._ordered:
            if candidate.status is not _Status.FAILED:
                window.append(candidate)
                if len(window) == self._k:
                    break
        return window

    def _add(self, nodes: Iterable[NodeInfo]) -> None:
        for node in nodes:
            if node.port == 0 or node.node_id == self._own_id or node.node_id in self._by_id:
                continue
            candidate = _Candidate(node, distance(node.node_id, self.target))
            self._by_id[node.node_id] = candidate
            bisect.insort(self._ordered, candidate, key=lambda c: c.distance)

    def _expire(self, now: float) -> None:
        for candidate in self._ordered:
            if candidate.status is _Status.IN_FLIGHT and now - candidate.sent_at >= self._timeout:
                candidate.status = _Status.FAILED

    def _deadline_of(self, candidate: _Candidate, now: float) -> float:
        slow_at = candidate.sent_at + self._slow_after
        return slow_at if now < slow_at else candidate.sent_at + self._timeout
