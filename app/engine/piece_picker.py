"""Which blocks to request from which peer: partial pieces first, then rarest-first (BEP 3).

A pure data structure on the download hot path, shaped after libtorrent's piece_picker.
Requesting and receiving a block cost O(1); the rest is kept cheap the same way:

- pieces nobody has started sit in buckets by availability (one set of buckets per
  priority level), so a `have` moves one piece in O(1) and nothing is ever re-sorted;
  a new piece is found by walking the buckets rarest first, skipping pieces the peer
  lacks, and a peer found to have nothing we can ask for is not walked for again until
  it has more pieces or blocks come back to the pool;
- a started piece gets per-block bookkeeping (`_Partial`), dropped again when the piece
  is verified or fails, so untouched and finished pieces cost no per-block memory;
- peers that have every piece are counted once (`_seeds`), not once per piece;
- in sequential mode (for playing media while it downloads) unstarted pieces are walked by
  index from a cursor below which nothing is left to start, after a few pieces asked for
  first: the first and last piece of each file;
- time-critical pieces (`set_critical`, for a player reading the file now) come before
  everything, as libtorrent's piece deadlines: the pieces right after the play position.

The caller announces every peer's pieces (`peer_joined`, `peer_has`, `peer_left`) before
asking `pick` for it: pieces only counted seeds have are looked at for seeds only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from enum import Enum
from itertools import islice
from typing import Final, NamedTuple

from app.engine.bitfield import Bitfield
from app.engine.snapshots import PieceState

BLOCK_SIZE: Final = 16384
# Endgame: a block is requested from at most this many peers at once, so the last pieces
# do not wait on one slow peer and the duplicated traffic stays bounded.
MAX_REQUESTERS: Final = 3
PRIORITIES: Final = (0, 1, 2)  # skip, normal, high


class Block(NamedTuple):
    """A request's worth of a piece (BEP 3: `request`/`piece`/`cancel` carry these three).

    A NamedTuple rather than the usual frozen dataclass: one is made per 16 KiB block, and
    a tuple is built and hashed in C (`_new_block`), a frozen dataclass through Python code.
    """

    piece: int
    offset: int
    length: int


# Block(piece, offset, length) without NamedTuple's Python-level __new__: the per-block path.
_new_block: Final = tuple.__new__


class _Mark(Enum):
    RECEIVED = "received"


_RECEIVED: Final = _Mark.RECEIVED
# Per block of a started piece: None (in the pool), the peers it is requested from, or received.
_Owners = list[Hashable] | None | _Mark


class _Partial:
    """The per-block state of one started piece."""

    __slots__ = ("piece", "base", "size", "free", "owners", "received", "senders")

    def __init__(self, piece: int, base: int, size: int, free: list[int]) -> None:
        self.piece = piece
        self.base = base  # the request key of block 0
        self.size = size
        self.free = free  # a stack of block indices, lowest on top; every block at the start
        self.owners: list[_Owners] = [None] * len(free)
        self.received = 0
        self.senders: set[Hashable] = set()


class _RarityBuckets:
    """Pieces nobody has started, one bucket per availability; add/remove are O(1)."""

    __slots__ = ("_buckets", "_slot", "size")

    def __init__(self, slot: list[int]) -> None:
        self._buckets: list[list[int]] = [[]]
        self._slot = slot  # shared: a piece's index inside its bucket, -1 if in none
        self.size = 0

    def fill(self, count: int) -> None:
        """Pieces 0 to count - 1, nobody has them yet: a torrent's start in one step."""
        self._buckets[0] = list(range(count))
        self._slot[:count] = range(count)
        self.size = count

    def add(self, piece: int, level: int) -> None:
        buckets = self._buckets
        while len(buckets) <= level:
            buckets.append([])
        bucket = buckets[level]
        self._slot[piece] = len(bucket)
        bucket.append(piece)
        self.size += 1

    def remove(self, piece: int, level: int) -> None:
        bucket = self._buckets[level]
        slot = self._slot[piece]
        last = bucket.pop()
        if last != piece:
            bucket[slot] = last
            self._slot[last] = slot
        self._slot[piece] = -1
        self.size -= 1

    def move(self, piece: int, old: int, new: int) -> None:
        """`remove` then `add`, in one call: peer bitfields move many pieces at once."""
        buckets, slot = self._buckets, self._slot
        bucket = buckets[old]
        last = bucket.pop()
        if last != piece:
            bucket[slot[piece]] = last
            slot[last] = slot[piece]
        if new == len(buckets):
            buckets.append([])
        bucket = buckets[new]
        slot[piece] = len(bucket)
        bucket.append(piece)

    def scan(self, rng: random.Random, first_level: int) -> Iterator[int]:
        """Rarest first; each bucket from a random offset, so ties break at random."""
        for bucket in self._buckets[first_level:]:
            if bucket:
                start = rng.randrange(len(bucket))
                for i in range(start, len(bucket)):
                    yield bucket[i]
                for i in range(start):
                    yield bucket[i]

    def __iter__(self) -> Iterator[int]:
        for bucket in self._buckets:
            yield from bucket


def _have_row(byte: int) -> bytes:
    return bytes(
        PieceState.VERIFIED if byte & (0x80 >> bit) else PieceState.MISSING for bit in range(8)
    )


_HAVE_ROWS: Final = tuple(_have_row(byte) for byte in range(256))
# A bitfield byte as eight bytes, 1 for each piece not had: per-piece masks built in C.
_LACK_ROWS: Final = tuple(bytes(0 if byte & (0x80 >> bit) else 1 for bit in range(8)) for byte in range(256))
_NONZERO: Final = bytes([0] + [1] * 255)  # a translate table: any count above 0 becomes 1


class PiecePicker:
    """What to request next, from whom, and what to cancel (BEP 3 rarest-first + endgame)."""

    def __init__(
        self,
        num_pieces: int,
        piece_length: int,
        total_length: int,
        *,
        block_size: int = BLOCK_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        if piece_length <= 0 or block_size <= 0 or num_pieces < 0:
            raise ValueError("piece length, block size and piece count must be positive")
        if not piece_length * (num_pieces - 1) < total_length <= piece_length * num_pieces:
            raise ValueError(f"{total_length} bytes do not fill {num_pieces} pieces")
        self._num_pieces = num_pieces
        self._piece_length = piece_length
        self._last_length = total_length - piece_length * (num_pieces - 1)
        self._block_size = block_size
        self._blocks_per_piece = -(-piece_length // block_size)
        # A whole piece's free stack, copied for each piece started (cheaper than a range).
        self._all_free: Final = list(range(self._blocks_per_piece - 1, -1, -1))
        self._rng = rng if rng is not None else random.Random()
        self._have = Bitfield(num_pieces)
        self._priority = bytearray([1]) * num_pieces
        self._avail = [0] * num_pieces  # not counting `_seeds`
        self._seeds = 0
        self._slot = [-1] * num_pieces
        self._orders = {1: _RarityBuckets(self._slot), 2: _RarityBuckets(self._slot)}
        self._orders[1].fill(num_pieces)
        self._partials: dict[int, _Partial] = {}
        # Wanted started pieces with blocks in the pool, oldest first.
        self._open: dict[int, _Partial] = {}
        self._requests: dict[Hashable, set[int]] = {}  # peer -> keys of its blocks in flight
        self._last: dict[Hashable, int] = {}  # peer -> the piece it last picked from
        self._refills = 0  # counts the times blocks or pieces came back to the pool
        self._dry: dict[Hashable, tuple[int, int]] = {}  # peer -> (_refills, its piece count)
        # Blocks in flight by requester count (index 0: one peer), for endgame duplicates.
        self._busy: tuple[dict[int, None], ...] = tuple({} for _ in range(MAX_REQUESTERS - 1))
        self._busy_adds = 0  # counts the times blocks joined `_busy`
        # peer -> (_busy_adds, _refills, its piece count) when it found no block to duplicate
        self._dry_endgame: dict[Hashable, tuple[int, int, int]] = {}
        self._missing = num_pieces  # wanted pieces not verified
        self._wanted_left = total_length
        self._sequential = False
        self._first: tuple[int, ...] = ()  # sequential: pieces to start before the others
        self._cursor = 0  # sequential: no unstarted wanted piece below this index
        self._critical: tuple[int, ...] = ()  # asked for before anything else, in order

    # -- sizes ---------------------------------------------------------------------------

    def _piece_size(self, piece: int) -> int:
        return self._last_length if piece == self._num_pieces - 1 else self._piece_length

    def _block(self, partial: _Partial, index: int) -> Block:
        offset = index * self._block_size
        return Block(partial.piece, offset, min(self._block_size, partial.size - offset))

    def _block_index(self, partial: _Partial, block: Block) -> int | None:
        """The index of `block` in its piece, None if it is not one of the piece's blocks."""
        index, rest = divmod(block.offset, self._block_size)
        if rest or not 0 <= index < len(partial.owners):
            return None
        expected = min(self._block_size, partial.size - index * self._block_size)
        return index if block.length == expected else None

    # -- what we have and want -----------------------------------------------------------

    @property
    def have(self) -> Bitfield:
        """The verified pieces (the live set: do not modify it)."""
        return self._have

    def piece_verified(self, piece: int) -> None:
        """A downloaded piece passed its hash check: forget its blocks."""
        if not self._have.add(piece):
            return
        partial = self._partials.pop(piece, None)
        if partial is not None:
            if partial.received < len(partial.owners):  # a whole piece has nothing left to drop
                self._forget(partial)
        elif self._slot[piece] >= 0:
            self._orders[self._priority[piece]].remove(piece, self._avail[piece])
        if self._priority[piece]:
            self._missing -= 1
            self._wanted_left -= self._last_length if piece == self._num_pieces - 1 else self._piece_length

    # A piece found good by the initial check or in resume data: the same bookkeeping.
    mark_have = piece_verified

    def wants(self, piece: int) -> bool:
        """Is `piece` wanted and not verified? (Enough to judge a peer's `have`.)"""
        return self._priority[piece] > 0 and piece not in self._have

    def set_priorities(self, priorities: Sequence[int]) -> None:
        if len(priorities) != self._num_pieces:
            raise ValueError(f"{len(priorities)} priorities for {self._num_pieces} pieces")
        if not set(priorities) <= set(PRIORITIES):
            raise ValueError("a piece priority is 0 (skip), 1 (normal) or 2 (high)")
        if bytes(priorities) == self._priority:
            return  # the usual case at start-up: every piece normal, as it was
        for piece, new in enumerate(priorities):
            old = self._priority[piece]
            if new != old:
                self._reprioritize(piece, old, new)

    def _reprioritize(self, piece: int, old: int, new: int) -> None:
        self._priority[piece] = new
        if piece in self._have:
            return
        gained = (new > 0) - (old > 0)
        if gained > 0:
            self._refills += 1
        self._missing += gained
        self._wanted_left += gained * self._piece_size(piece)
        partial = self._partials.get(piece)
        if partial is not None:
            if new and partial.free:
                self._open[piece] = partial
            else:
                self._open.pop(piece, None)
            return
        if old:
            self._orders[old].remove(piece, self._avail[piece])
        if new:
            self._enqueue(piece)

    def _enqueue(self, piece: int) -> None:
        """Back among the unstarted pieces (wanted again, or its data failed)."""
        self._orders[self._priority[piece]].add(piece, self._avail[piece])
        self._cursor = min(self._cursor, piece)

    @property
    def sequential(self) -> bool:
        return self._sequential

    def set_sequential(self, enabled: bool, first: Sequence[int] = ()) -> None:
        """Start pieces by index instead of rarest first (to play media while it downloads).

        `first` are started before the others, in that order: the first and last piece of
        each file, where players look for the headers and the index. High priority pieces
        still come before normal ones.
        """
        if any(not 0 <= piece < self._num_pieces for piece in first):
            raise ValueError(f"a piece to start first is not one of the {self._num_pieces} pieces")
        self._sequential = enabled
        self._first = tuple(first) if enabled else ()
        self._cursor = 0

    @property
    def critical(self) -> tuple[int, ...]:
        return self._critical

    def set_critical(self, pieces: Sequence[int]) -> None:
        """Pieces a player waits for, the most urgent first: requested before any other
        piece, whatever the mode (libtorrent's set_piece_deadline does the same job)."""
        if any(not 0 <= piece < self._num_pieces for piece in pieces):
            raise ValueError(f"a time-critical piece is not one of the {self._num_pieces} pieces")
        self._critical = tuple(pieces)
        self._refills += 1  # peers found dry before may have one of these

    def is_complete(self) -> bool:
        """Every wanted piece is verified."""
        return self._missing == 0

    @property
    def missing(self) -> int:
        """Wanted pieces not verified yet."""
        return self._missing

    @property
    def wanted_left(self) -> int:
        """Bytes of wanted pieces not verified yet."""
        return self._wanted_left

    @property
    def in_endgame(self) -> bool:
        """Every wanted block not received is already requested."""
        return bool(self._missing) and not self._open and not self._unstarted()

    def _unstarted(self) -> int:
        return self._orders[1].size + self._orders[2].size

    # -- availability --------------------------------------------------------------------

    def peer_joined(self, pieces: Bitfield) -> None:
        """Count a peer's pieces (its bitfield, or a full one for have-all)."""
        if pieces.is_complete():
            self._seeds += 1
            return
        for piece in pieces:
            self._shift(piece, 1)

    def peer_has(self, piece: int) -> None:
        """Count a peer's `have` (call it once per piece the peer did not have)."""
        self._shift(piece, 1)

    def peer_left(self, pieces: Bitfield) -> None:
        # A peer with every piece adds one to every piece however it was counted, so a
        # complete peer may leave through `_seeds` even if it joined piece by piece.
        if pieces.is_complete() and self._seeds:
            self._seeds -= 1
            return
        for piece in pieces:
            self._shift(piece, -1)

    def _shift(self, piece: int, delta: int) -> None:
        old = self._avail[piece]
        if old + delta < 0:
            raise ValueError(f"piece {piece} has no peer left to lose")
        self._avail[piece] = old + delta
        if self._slot[piece] >= 0:
            self._orders[self._priority[piece]].move(piece, old, old + delta)

    def availability(self, piece: int) -> int:
        return self._avail[piece] + self._seeds

    def availability_bytes(self) -> bytes:
        """Per piece, how many connected peers have it, capped at 255 (for the UI)."""
        avail = self._avail
        row = bytes(avail if max(avail, default=0) < 256 else [min(a, 255) for a in avail])
        if self._seeds:
            row = row.translate(bytes(min(v + self._seeds, 255) for v in range(256)))
        return row

    def available_missing(self) -> int:
        """Wanted pieces not verified that some connected peer has (the speed diagnosis asks
        at every snapshot). Three per-piece 0/1 masks ANDed as integers: O(pieces) in C, not a
        Python loop over 200,000 pieces."""
        if self._seeds:
            return self._missing
        lacking = b"".join(_LACK_ROWS[byte] for byte in self._have.to_bytes())[: self._num_pieces]
        held = self.availability_bytes().translate(_NONZERO)
        wanted = bytes(self._priority).translate(_NONZERO)
        return (int.from_bytes(lacking) & int.from_bytes(held) & int.from_bytes(wanted)).bit_count()

    def interesting(self, pieces: Bitfield) -> bool:
        """Does the peer have a wanted piece we have not verified? (BEP 3 `interested`)"""
        if not self._missing or not pieces.count:
            return False
        if pieces.is_complete():
            return True
        if 0 not in self._priority:  # every piece wanted: one AND over the two bitfields, in C
            return int.from_bytes(pieces.to_bytes()) & ~int.from_bytes(self._have.to_bytes()) != 0
        if pieces.count < self._missing:
            return any(self.wants(piece) for piece in pieces)
        return any(piece in pieces for piece in self._missing_pieces())

    def _missing_pieces(self) -> Iterator[int]:
        yield from (piece for piece in self._partials if self._priority[piece])
        yield from self._orders[2]
        yield from self._orders[1]

    # -- requests ------------------------------------------------------------------------

    def pick(
        self, peer: Hashable, pieces: Bitfield, count: int, *, prefer: Iterable[int] = (), only: bool = False
    ) -> list[Block]:
        """Up to `count` blocks to request from `peer`, now marked as requested by it.

        `pieces` is the peer's own bitfield (it only grows), already counted through
        `peer_joined` and `peer_has`. Pieces in `prefer` that the peer has and we want come
        first (the peer's BEP 6 suggestions); with `only`, nothing else does (the pieces a
        peer that chokes us allows us anyway, BEP 6 allowed fast).
        """
        picked: list[Block] = []
        if self._critical and not only:  # tested first: pick runs once per refill of a pipeline
            self._request_preferred(peer, pieces, self._critical, count, picked)
            self._request_urgent_duplicates(peer, pieces, count, picked)
        if prefer:
            self._request_preferred(peer, pieces, prefer, count, picked)
        if only or len(picked) == count:
            return picked
        dry = self._dry.get(peer)
        if dry is None or dry != (self._refills, pieces.count):
            self._request_pool(peer, pieces, count, picked)
        if len(picked) < count and self.in_endgame:
            if self._dry_endgame.get(peer) != (self._busy_adds, self._refills, pieces.count):
                self._request_busy(peer, pieces, count - len(picked), picked)
        return picked

    def _request_urgent_duplicates(
        self, peer: Hashable, pieces: Bitfield, count: int, picked: list[Block]
    ) -> None:
        """The most urgent critical piece's blocks already asked of others, asked of this peer
        too (endgame-style), so one slow peer does not hold up the player."""
        partial = self._partials.get(self._critical[0])
        if partial is None or partial.piece not in pieces or len(picked) >= count:
            return
        keys = self._requests.setdefault(peer, set())
        for index, owners in enumerate(partial.owners):
            key = partial.base + index
            if isinstance(owners, list) and len(owners) < MAX_REQUESTERS and key not in keys:
                picked.append(self._add_requester(key, peer, keys))
                if len(picked) >= count:
                    return

    def pick_whole(
        self, peer: Hashable, pieces: Bitfield, count: int, slow: Callable[[], Iterable[int]] = tuple
    ) -> list[Block]:
        """Whole pieces, about `count` blocks, for a source that is asked for pieces, not
        blocks (a BEP 19 web seed): started pieces whose blocks all came back first, then
        new ones rarest first. Only when there are none, the pieces `slow()` names (started
        pieces peers are slow with, slowest first) are taken over; then blocks of pieces others
        started and endgame duplicates (`pick`). A piece that fails then is not blamed on one source.
        """
        picked: list[Block] = []
        untouched = [p for p in self._open.values() if len(p.free) == len(p.owners) and p.piece in pieces]
        for partial in untouched:
            if len(picked) >= count:
                return picked
            self._request_free(partial, peer, len(partial.free), picked)
        while len(picked) < count and (partial := self._start_piece(pieces)) is not None:
            self._request_free(partial, peer, len(partial.free), picked)
        if not picked:
            self._take_over(peer, pieces, slow(), count, picked)
        return picked or self.pick(peer, pieces, count)

    def _take_over(
        self, peer: Hashable, pieces: Bitfield, slow: Iterable[int], count: int, picked: list[Block]
    ) -> None:
        """Every block not yet received of each slow piece, in order: free ones taken, those in
        flight asked of `peer` too. Past MAX_REQUESTERS if need be: the cap bounds what peers
        duplicate in the endgame, and slow peers that filled it must not lock out the source
        that is fast (a source takes a block over once, so web seeds bound it)."""
        keys = self._requests.setdefault(peer, set())
        for piece in slow:
            partial = self._partials.get(piece)
            if partial is None or piece not in pieces or not self._priority[piece]:
                continue
            for index, owners in enumerate(partial.owners):
                if len(picked) >= count:
                    return
                key = partial.base + index
                if owners is None:
                    picked.append(self._take_free(partial, index, peer, keys))
                elif isinstance(owners, list) and key not in keys:
                    picked.append(self._add_requester(key, peer, keys))

    def _take_free(self, partial: _Partial, index: int, peer: Hashable, keys: set[int]) -> Block:
        """One given block out of the pool (`_request_free` takes the top of the stack)."""
        partial.free.remove(index)
        if not partial.free:
            self._open.pop(partial.piece, None)
        partial.owners[index] = [peer]
        keys.add(partial.base + index)
        self._busy[0][partial.base + index] = None
        self._busy_adds += 1
        return self._block(partial, index)

    def _request_preferred(
        self, peer: Hashable, pieces: Bitfield, prefer: Iterable[int], count: int, picked: list[Block]
    ) -> None:
        for piece in prefer:
            if len(picked) == count:
                return
            partial = self._preferred(piece, pieces)
            if partial is not None:
                self._request_free(partial, peer, count - len(picked), picked)

    def _request_pool(
        self, peer: Hashable, pieces: Bitfield, count: int, picked: list[Block]
    ) -> None:
        while len(picked) < count:
            partial = self._open_piece_for(peer, pieces)
            started = [partial] if partial is not None else self._start_pieces(pieces, count - len(picked))
            if not started:
                # Nothing here for this peer until it has more pieces or blocks return to
                # the pool: remember, so refilling its pipeline does not rescan every piece.
                self._dry[peer] = (self._refills, pieces.count)
                return
            for partial in started:  # all but the last are taken whole: none asks for 0 blocks
                self._request_free(partial, peer, count - len(picked), picked)

    def _open_piece_for(self, peer: Hashable, pieces: Bitfield) -> _Partial | None:
        """A started piece with blocks in the pool: the peer's own first, then the oldest."""
        last = self._last.get(peer, -1)
        partial = self._open.get(last)
        if partial is not None and last in pieces:
            return partial
        for piece, partial in self._open.items():
            if piece in pieces:
                return partial
        return None

    def _start_piece(self, pieces: Bitfield) -> _Partial | None:
        """Start the next wanted piece the peer has: rarest first, or in order if sequential."""
        started = self._start_pieces(pieces, 1)
        return started[0] if started else None

    def _start_pieces(self, pieces: Bitfield, blocks: int) -> list[_Partial]:
        """Start enough wanted pieces the peer has for `blocks` blocks (one if sequential).

        Rarest first, found in one scan: with small pieces (one block each at 16 KiB) a
        scan per piece cost more than the rest of the picker together."""
        if self._sequential:
            piece = self._next_in_order(pieces)
            return [] if piece is None else [self._start(piece)]
        return [self._start(piece) for piece in self._rarest(pieces, -(-blocks // self._blocks_per_piece))]

    def _preferred(self, piece: int, pieces: Bitfield) -> _Partial | None:
        """`piece`, started if need be, when the peer has it and blocks of it are in the pool."""
        if piece not in pieces or not self.wants(piece):
            return None
        partial = self._partials.get(piece)
        if partial is None:
            return self._start(piece)
        return partial if partial.free else None

    def _start(self, piece: int) -> _Partial:
        """Move an unstarted wanted piece to the started ones, every block in the pool."""
        self._orders[self._priority[piece]].remove(piece, self._avail[piece])
        if piece == self._num_pieces - 1:
            size = self._last_length
            free = list(range(-(-size // self._block_size) - 1, -1, -1))
        else:
            size, free = self._piece_length, self._all_free.copy()
        partial = _Partial(piece, piece * self._blocks_per_piece, size, free)
        self._partials[piece] = partial
        self._open[piece] = partial
        return partial

    def _rarest(self, pieces: Bitfield, wanted: int) -> list[int]:
        """Up to `wanted` of the rarest unstarted wanted pieces the peer has, high priority first."""
        complete = pieces.is_complete()
        first_level = 0 if complete else 1  # level 0: only counted seeds have it
        found: list[int] = []
        for priority in (2, 1):
            order = self._orders[priority]
            if order.size:
                scan = order.scan(self._rng, first_level)
                found += islice(scan if complete else filter(pieces.__contains__, scan), wanted - len(found))
                if len(found) == wanted:
                    break
        return found

    def _next_in_order(self, pieces: Bitfield) -> int | None:
        """Sequential: the pieces asked for first, then the lowest index, high before normal."""
        slot = self._slot
        for piece in self._first:
            if slot[piece] >= 0 and piece in pieces:
                return piece
        while self._cursor < self._num_pieces and slot[self._cursor] < 0:
            self._cursor += 1  # started, verified or skipped: nothing to start here again
        normal = None
        any_high = self._orders[2].size > 0
        for piece in range(self._cursor, self._num_pieces):
            if slot[piece] < 0 or piece not in pieces:
                continue
            if self._priority[piece] == 2 or not any_high:
                return piece
            if normal is None:
                normal = piece
        return normal

    def _request_free(
        self, partial: _Partial, peer: Hashable, count: int, picked: list[Block]
    ) -> None:
        free, owners, base = partial.free, partial.owners, partial.base
        piece, size, block_size = partial.piece, partial.size, self._block_size
        keys = self._requests.get(peer)
        if keys is None:
            keys = self._requests[peer] = set()
        single = self._busy[0]
        taken = free[-count:]
        del free[-count:]
        for index in reversed(taken):
            owners[index] = [peer]
            keys.add(base + index)
            single[base + index] = None
            offset = index * block_size
            end = offset + block_size
            picked.append(_new_block(Block, (piece, offset, block_size if end <= size else size - offset)))
        if not free:
            del self._open[piece]
        self._last[peer] = piece
        self._busy_adds += 1

    def _request_busy(
        self, peer: Hashable, pieces: Bitfield, count: int, picked: list[Block]
    ) -> None:
        """Endgame: blocks already requested from others, fewest requesters first."""
        keys = self._requests.setdefault(peer, set())
        for busy in self._busy:
            chosen = list(islice(self._duplicable(busy, keys, pieces), count))
            for key in chosen:
                picked.append(self._add_requester(key, peer, keys))
            count -= len(chosen)
            if not count:
                return
        # None left for this peer until others request more, blocks come back or it has more
        # pieces: remember, so refilling its pipeline does not rescan every block in flight.
        self._dry_endgame[peer] = (self._busy_adds, self._refills, pieces.count)

    def _duplicable(self, busy: dict[int, None], keys: set[int], pieces: Bitfield) -> Iterator[int]:
        for key in busy:
            piece = key // self._blocks_per_piece
            if key not in keys and piece in pieces and self._priority[piece]:
                yield key

    def _add_requester(self, key: int, peer: Hashable, keys: set[int]) -> Block:
        piece, index = divmod(key, self._blocks_per_piece)
        partial = self._partials[piece]
        owners = partial.owners[index]
        assert isinstance(owners, list)
        if len(owners) < MAX_REQUESTERS:  # a take-over may go past the cap (`_take_over`)
            del self._busy[len(owners) - 1][key]
        owners.append(peer)
        if len(owners) < MAX_REQUESTERS:
            self._busy[len(owners) - 1][key] = None
            self._busy_adds += 1
        keys.add(key)
        return self._block(partial, index)

    def block_received(self, peer: Hashable, block: Block) -> tuple[bool, list[Hashable], bool]:
        """Accept a requested block; returns (accepted, the other peers it is requested from,
        to cancel, and whether every block of its piece is now received, to verify it).

        A block nobody requested, or already received, is refused: (False, [], False).
        One call per block on the download path, so the index check is inline.
        """
        partial = self._partials.get(block.piece)
        if partial is None:
            return False, [], False
        block_size = self._block_size
        index, rest = divmod(block.offset, block_size)
        owners_of = partial.owners
        # `_block_index`, inline: a block on a boundary of the piece, of the right length
        num_blocks = len(owners_of)
        if rest or not 0 <= index < num_blocks:
            return False, [], False
        tail = partial.size - block.offset
        if block.length != (block_size if tail > block_size else tail):
            return False, [], False
        owners = owners_of[index]
        if owners is None or owners is _RECEIVED:
            return False, [], False
        key = partial.base + index
        requests = self._requests
        for owner in owners:
            requests[owner].discard(key)
        if len(owners) < MAX_REQUESTERS:
            del self._busy[len(owners) - 1][key]
        owners_of[index] = _RECEIVED
        partial.received += 1
        partial.senders.add(peer)
        if peer in owners:
            owners.remove(peer)
        # `owners` is no longer in the piece's bookkeeping: the others to cancel
        return True, owners, partial.received == num_blocks

    def abort(self, peer: Hashable, block: Block) -> None:
        """A request was rejected, timed out or cancelled: the block goes back to the pool."""
        partial = self._partials.get(block.piece)
        keys = self._requests.get(peer)
        index = None if partial is None else self._block_index(partial, block)
        if partial is None or index is None or keys is None:
            return
        if partial.base + index in keys:
            keys.discard(partial.base + index)
            self._release(partial, index, peer)

    def peer_gone(self, peer: Hashable) -> None:
        """Every block in flight from `peer` goes back to the pool (or to its other requesters)."""
        self._last.pop(peer, None)
        self._dry.pop(peer, None)
        self._dry_endgame.pop(peer, None)
        # Highest first onto the pools' stacks, so they are requested again lowest first.
        for key in sorted(self._requests.pop(peer, ()), reverse=True):
            piece, index = divmod(key, self._blocks_per_piece)
            self._release(self._partials[piece], index, peer)

    def _release(self, partial: _Partial, index: int, peer: Hashable) -> None:
        owners = partial.owners[index]
        assert isinstance(owners, list)
        key = partial.base + index
        if len(owners) < MAX_REQUESTERS:
            del self._busy[len(owners) - 1][key]
        owners.remove(peer)
        if owners:
            if len(owners) < MAX_REQUESTERS:
                self._busy[len(owners) - 1][key] = None
                self._busy_adds += 1
            return
        partial.owners[index] = None
        partial.free.append(index)
        self._refills += 1
        if self._priority[partial.piece]:
            self._open[partial.piece] = partial

    def piece_failed(self, piece: int) -> set[Hashable]:
        """The piece failed its hash check: want it again; returns the peers that sent it."""
        partial = self._partials.pop(piece, None)
        if partial is None:
            return set()
        self._forget(partial)
        self._refills += 1
        if self._priority[piece]:
            self._enqueue(piece)
        return partial.senders

    def _forget(self, partial: _Partial) -> None:
        """Drop a piece's requests still in flight (none once every block is received)."""
        self._open.pop(partial.piece, None)
        if partial.received == len(partial.owners):
            return
        for index, owners in enumerate(partial.owners):
            if isinstance(owners, list):
                key = partial.base + index
                for owner in owners:
                    self._requests[owner].discard(key)
                if len(owners) < MAX_REQUESTERS:
                    del self._busy[len(owners) - 1][key]

    # -- for the UI ----------------------------------------------------------------------

    def piece_state(self, piece: int) -> PieceState:
        # Started pieces first: `states_bytes` asks for each of them, and a verified piece
        # has no per-block state left.
        partial = self._partials.get(piece)
        if partial is None:
            return PieceState.VERIFIED if piece in self._have else PieceState.MISSING
        if partial.received == len(partial.owners):
            return PieceState.WRITING
        if len(partial.free) < len(partial.owners):
            return PieceState.REQUESTED
        return PieceState.MISSING

    def states_bytes(self) -> bytes:
        """One PieceState per piece (O(pieces): for the UI, a couple of times a second)."""
        rows = b"".join(_HAVE_ROWS[byte] for byte in self._have.to_bytes())
        states = bytearray(rows[: self._num_pieces])
        for piece in self._partials:
            states[piece] = self.piece_state(piece)
        return bytes(states)
