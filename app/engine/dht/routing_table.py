"""The mainline DHT routing table (BEP 5), pure: the caller passes `now` everywhere.

Buckets are kept as a list indexed by how many leading bits a node id shares with ours:
bucket i holds the ids that share exactly i bits, and the last bucket holds everything
closer. That last bucket is the only one whose range contains our own id, so it is the
only one that splits (BEP 5: "When the bucket is full of good nodes, the new node is
simply discarded", unless "our own node ID falls within the range of the bucket").

A node enters the table only after it has answered one of our queries, so every entry
has responded at least once. Nodes that do not fit wait in the bucket's replacement
cache and take the place of a node that goes bad.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from enum import Enum

from app.engine.dht.krpc import ID_LENGTH, Address, NodeInfo

K = 8  # BEP 5: "Each bucket can only hold K nodes, currently eight"
ID_BITS = ID_LENGTH * 8
GOOD_FOR = 15 * 60.0  # BEP 5: good if it "has responded to one of our queries within the last 15 minutes"
REFRESH_AFTER = 15 * 60.0  # BEP 5: "Buckets that have not been changed in 15 minutes should be refreshed"
MAX_FAILURES = 2  # BEP 5: bad "when they fail to respond to multiple queries in a row"


class NodeState(Enum):
    GOOD = "good"
    QUESTIONABLE = "questionable"
    BAD = "bad"


def distance(a: bytes, b: bytes) -> int:
    """BEP 5: the XOR metric, as an unsigned integer."""
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big")


def shared_prefix_bits(a: bytes, b: bytes) -> int:
    return ID_BITS - distance(a, b).bit_length()


@dataclass(slots=True)
class _Entry:
    node: NodeInfo
    last_seen: float  # the last reply from it, or query from it (it has replied before)
    failures: int = 0  # queries in a row it did not answer

    def state(self, now: float) -> NodeState:
        if self.failures >= MAX_FAILURES:
            return NodeState.BAD
        return NodeState.GOOD if now - self.last_seen <= GOOD_FOR else NodeState.QUESTIONABLE


@dataclass(slots=True)
class _Bucket:
    last_changed: float
    entries: list[_Entry] = field(default_factory=list)
    replacements: list[_Entry] = field(default_factory=list)  # most recently seen last

    def find(self, node_id: bytes) -> _Entry | None:
        return next((entry for entry in self.entries if entry.node.node_id == node_id), None)

    def first_bad(self, now: float) -> _Entry | None:
        return next((entry for entry in self.entries if entry.state(now) is NodeState.BAD), None)

    def remember(self, entry: _Entry, capacity: int) -> None:
        self.replacements = [old for old in self.replacements if old.node.node_id != entry.node.node_id]
        self.replacements.append(entry)
        del self.replacements[:-capacity]


class RoutingTable:
    """The nodes we know, at most `k` per bucket, and when each bucket needs a refresh."""

    def __init__(self, own_id: bytes, now: float, *, k: int = K, rng: random.Random | None = None) -> None:
        if len(own_id) != ID_LENGTH:
            raise ValueError(f"a node id is {ID_LENGTH} bytes")
        self.own_id = own_id
        self.k = k
        self._rng = rng or random.Random()
        self._buckets = [_Bucket(now)]
        self._by_address: dict[Address, bytes] = {}

    def __len__(self) -> int:
        return len(self._by_address)

    def __contains__(self, node_id: object) -> bool:
        return isinstance(node_id, bytes) and self._find(node_id) is not None

    @property
    def bucket_count(self) -> int:
        return len(self._buckets)

    def state(self, node_id: bytes, now: float) -> NodeState | None:
        entry = self._find(node_id)
        return None if entry is None else entry.state(now)

    def node_responded(self, node: NodeInfo, now: float) -> bool:
        """Record a reply from `node`; returns whether it is now in the table (not only cached)."""
        if node.node_id == self.own_id:
            return False
        entry = self._find(node.node_id)
        if entry is not None:
            if entry.node.address != node.address:
                return False  # the id moved: keep the address we verified, do not let it be hijacked
            entry.last_seen, entry.failures = now, 0
            self._bucket_of(node.node_id).last_changed = now
            return True
        self._forget(self._by_address.get(node.address))  # a node at a known address came back with a new id
        return self._insert(_Entry(node, now), now)

    def node_queried(self, node_id: bytes, now: float) -> None:
        """A node in the table sent us a query: BEP 5 counts that as activity of a node that replied before."""
        entry = self._find(node_id)
        if entry is not None:
            entry.last_seen = now

    def node_failed(self, node_id: bytes, now: float) -> None:
        """`node_id` did not answer a query; once bad, the newest cached replacement takes its slot."""
        bucket = self._bucket_of(node_id)
        bucket.replacements = [entry for entry in bucket.replacements if entry.node.node_id != node_id]
        entry = bucket.find(node_id)
        if entry is None:
            return
        entry.failures += 1
        if entry.state(now) is NodeState.BAD and bucket.replacements:
            self._replace(bucket, entry, bucket.replacements.pop(), now)

    def wants(self, node: NodeInfo, now: float) -> bool:
        """Whether the table would take `node` if it answered a ping (so it is worth pinging)."""
        if node.node_id == self.own_id or node.node_id in self or node.address in self._by_address:
            return False
        index = self._index(node.node_id)
        bucket = self._buckets[index]
        return (
            len(bucket.entries) < self.k
            or self._can_split(index)
            or any(entry.state(now) is not NodeState.GOOD for entry in bucket.entries)
        )

    def closest(self, target: bytes, n: int = K) -> list[NodeInfo]:
        """The `n` nodes nearest to `target` by XOR distance, nearest first; bad nodes left out."""
        candidates = (
            entry.node for bucket in self._buckets for entry in bucket.entries if entry.failures < MAX_FAILURES
        )
        return heapq.nsmallest(n, candidates, key=lambda node: distance(node.node_id, target))

    def nodes(self, now: float, state: NodeState = NodeState.GOOD) -> list[NodeInfo]:
        return [entry.node for bucket in self._buckets for entry in bucket.entries if entry.state(now) is state]

    def buckets_to_refresh(self, now: float) -> list[bytes]:
        """A random target id in each bucket unchanged for 15 minutes (BEP 5), whose clock restarts now.

        The caller runs a find_node lookup on each target.
        """
        targets = []
        for index, bucket in enumerate(self._buckets):
            if now - bucket.last_changed >= REFRESH_AFTER:
                bucket.last_changed = now
                targets.append(self._random_id_in(index))
        return targets

    def _find(self, node_id: bytes) -> _Entry | None:
        return self._bucket_of(node_id).find(node_id)

    def _index(self, node_id: bytes) -> int:
        return min(shared_prefix_bits(node_id, self.own_id), len(self._buckets) - 1)

    def _bucket_of(self, node_id: bytes) -> _Bucket:
        return self._buckets[self._index(node_id)]

    def _can_split(self, index: int) -> bool:
        return index == len(self._buckets) - 1 and len(self._buckets) < ID_BITS

    def _insert(self, entry: _Entry, now: float) -> bool:
        while True:
            index = self._index(entry.node.node_id)
            bucket = self._buckets[index]
            if len(bucket.entries) < self.k:
                bucket.entries.append(entry)
                bucket.last_changed = now
                self._by_address[entry.node.address] = entry.node.node_id
                return True
            if not self._can_split(index):
                break
            self._split(now)
        bad = bucket.first_bad(now)
        if bad is not None:
            self._replace(bucket, bad, entry, now)
            return True
        bucket.remember(entry, self.k)
        return False

    def _replace(self, bucket: _Bucket, old: _Entry, new: _Entry, now: float) -> None:
        bucket.entries[bucket.entries.index(old)] = new
        bucket.last_changed = now
        del self._by_address[old.node.address]
        self._by_address[new.node.address] = new.node.node_id

    def _split(self, now: float) -> None:
        """Move the entries of the last bucket that share one more bit with our id into a new bucket."""
        last = self._buckets[-1]
        depth = len(self._buckets)
        self._buckets.append(_Bucket(now))
        closer = self._buckets[-1]

        def is_closer(entry: _Entry) -> bool:
            return shared_prefix_bits(entry.node.node_id, self.own_id) >= depth

        closer.entries = [entry for entry in last.entries if is_closer(entry)]
        closer.replacements = [entry for entry in last.replacements if is_closer(entry)]
        last.entries = [entry for entry in last.entries if not is_closer(entry)]
        last.replacements = [entry for entry in last.replacements if not is_closer(entry)]

    def _forget(self, node_id: bytes | None) -> None:
        if node_id is None:
            return
        bucket = self._bucket_of(node_id)
        entry = bucket.find(node_id)
        if entry is not None:
            bucket.entries.remove(entry)
            del self._by_address[entry.node.address]

    def _random_id_in(self, index: int) -> bytes:
        """An id sharing exactly `index` leading bits with ours (at least, for the last bucket)."""
        own = int.from_bytes(self.own_id, "big")
        free = (1 << (ID_BITS - index)) - 1
        value = (own & ~free) | (self._rng.getrandbits(ID_BITS) & free)
        if index < len(self._buckets) - 1:
            differing_bit = 1 << (ID_BITS - 1 - index)
            value = (value & ~differing_bit) | (~own & differing_bit)
        return value.to_bytes(ID_LENGTH, "big")
