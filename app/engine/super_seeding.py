"""Super-seeding (BEP 16): an initial seeder shows each peer one piece at a time.

The seed announces no pieces after the handshake, then tells each peer of one piece with a
`have`, the rarest it lacks that fewest peers were shown. A peer is shown its next piece only
once the piece it was shown turns up at another peer (that peer's `have`): it passed the piece
on instead of hoarding it, so the seed's upload goes to pieces the swarm lacks
(BEP 16, "Implementation"; libtorrent's strict super-seeding).

One exception keeps a swarm from stalling: a peer that announces its own shown piece when no
other peer lacks it (it is alone, or the others have it already) has nobody to pass it to, so
it is shown the next one at once (libtorrent does this for a lone peer).

Pure: peers are any hashable keys; their pieces and the availability are handed in.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from app.engine.bitfield import Bitfield


class SuperSeeder:
    """Which piece each peer is being shown; decisions out, no I/O."""

    def __init__(self, num_pieces: int) -> None:
        self.num_pieces = num_pieces
        self.shown: dict[Hashable, int] = {}  # peer -> the one piece it was told of, for now
        self._times_shown = [0] * num_pieces

    def reveal(self, peer: Hashable, pieces: Bitfield | None, availability: Callable[[int], int]) -> int | None:
        """The piece to tell `peer` of next (None: it lacks nothing); remembered as shown."""
        lacking = [i for i in range(self.num_pieces) if pieces is None or i not in pieces]
        if not lacking:
            self.shown.pop(peer, None)
            return None
        piece = min(lacking, key=lambda i: (availability(i), self._times_shown[i], i))
        self.shown[peer] = piece
        self._times_shown[piece] += 1
        return piece

    def peer_has(
        self, peer: Hashable, index: int, peers: Mapping[Hashable, Bitfield | None],
        availability: Callable[[int], int],
    ) -> list[tuple[Hashable, int]]:
        """`peer` announced piece `index`: the (peer, piece) pairs to announce now."""
        moved = []
        for holder, piece in list(self.shown.items()):
            if piece != index or not self._passed_on(holder, peer, index, peers):
                continue
            new = self.reveal(holder, peers.get(holder), availability)
            if new is not None:
                moved.append((holder, new))
        return moved

    def view_known(self, peer: Hashable, pieces: Bitfield, availability: Callable[[int], int]) -> int | None:
        """The peer's bitfield arrived: a new piece to show if it has the one it was shown, else None."""
        shown = self.shown.get(peer)
        if shown is not None and shown not in pieces:
            return None
        return self.reveal(peer, pieces, availability)

    def peer_gone(self, peer: Hashable) -> None:
        self.shown.pop(peer, None)

    @staticmethod
    def _passed_on(holder: Hashable, announcer: Hashable, index: int, peers: Mapping[Hashable, Bitfield | None]) -> bool:
        if holder is not announcer:
            holding = peers.get(holder)
            return holding is not None and index in holding  # seen at another peer: passed on
        return all(other is holder or (bits is not None and index in bits) for other, bits in peers.items())
