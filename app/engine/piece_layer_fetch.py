"""Fetching a v2 torrent's piece layers from peers (BEP 52 hash request / hashes), as pure bookkeeping.

A magnet link brings the info dictionary (BEP 9) but not the 'piece layers' beside it.
For each file longer than a piece we ask for its piece layer in runs of up to 512 hashes,
each with every uncle up to the root, so each answer is checked on its own against the
file's pieces root and a peer that lies is caught at once. One peer per run at a time;
a reject or a timeout passes the run to another peer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass

from app.engine import merkle
from app.engine.errors import RemoteProtocolError
from app.engine.metainfo import Metainfo
from app.engine.wire.messages import HashReject, Hashes, HashRequest

RUN = 512  # hashes per request, as libtorrent asks
REQUEST_TIMEOUT = 10.0


def missing_layers(metainfo: Metainfo) -> list[tuple[bytes, int]]:
    """(pieces root, pieces) of the files a v2-only torrent cannot check yet. A hybrid
    torrent needs none: its pieces are checked by SHA-1."""
    if metainfo.format != "v2":
        return []
    length = metainfo.piece_length
    return [
        (f.pieces_root, -(-f.length // length))
        for f in metainfo.files
        if f.length > length and not f.padding and f.pieces_root not in metainfo.piece_layers
    ]


@dataclass(frozen=True, slots=True)
class _File:
    pieces_root: bytes
    pieces: int  # how many piece-layer hashes the file has


class PieceLayerFetch:
    def __init__(self, files: Iterable[tuple[bytes, int]], piece_length: int) -> None:
        """`files`: (pieces root, number of pieces) of each file that lacks its piece layer."""
        self._height = (piece_length // merkle.BLOCK_SIZE).bit_length() - 1
        self._files = {root: _File(root, pieces) for root, pieces in files}
        self._runs: dict[HashRequest, list[bytes] | None] = {
            run: None for file in self._files.values() for run in self._file_runs(file)
        }
        self._asked: dict[HashRequest, tuple[Hashable, float]] = {}
        self._refused: set[tuple[Hashable, HashRequest]] = set()

    @property
    def done(self) -> bool:
        return all(hashes is not None for hashes in self._runs.values())

    def layers(self) -> dict[bytes, bytes]:
        """The fetched piece layers, by pieces root (once `done`)."""
        return {root: self._layer(root) for root in self._files}

    def requests(self, peers: Iterable[Hashable], now: float) -> Iterator[tuple[Hashable, HashRequest]]:
        """(peer, request) pairs to send now; each missing run from one peer at a time."""
        candidates = list(peers)
        for number, (run, hashes) in enumerate(self._runs.items()):
            asked = self._asked.get(run)
            if hashes is not None or (asked is not None and now - asked[1] < REQUEST_TIMEOUT):
                continue
            willing = [p for p in candidates if (p, run) not in self._refused and (asked is None or p is not asked[0])]
            if willing:
                peer = willing[number % len(willing)]  # spread the runs over the peers
                self._asked[run] = (peer, now)
                yield peer, run

    def received(self, peer: Hashable, message: Hashes) -> None:
        """Check a 'hashes' answer against the pieces root; a wrong one is the peer's fault."""
        run = message.request
        if run not in self._runs or self._runs[run] is not None:
            return  # not asked, or answered already by someone else: harmless
        hashes = [message.hashes[i : i + 32] for i in range(0, len(message.hashes), 32)]
        node, above = merkle.root_from_proof(hashes, run.index, run.length, self._height)
        width = merkle.next_power_of_two(self._files[run.pieces_root].pieces)
        if above != width.bit_length() - 1 or node != run.pieces_root:
            raise RemoteProtocolError("the peer's piece-layer hashes do not lead to the file's pieces root")
        self._runs[run] = hashes[: run.length]
        self._asked.pop(run, None)

    def rejected(self, peer: Hashable, message: HashReject) -> None:
        run = message.request
        self._refused.add((peer, run))
        if self._asked.get(run, (None,))[0] is peer:
            del self._asked[run]

    def peer_gone(self, peer: Hashable) -> None:
        self._asked = {run: ask for run, ask in self._asked.items() if ask[0] is not peer}

    def _file_runs(self, file: _File) -> Iterator[HashRequest]:
        width = merkle.next_power_of_two(file.pieces)
        # Uncles all the way up: BEP 52 allows proof layers up to one below the root.
        proof_layers = max(0, width.bit_length() - 2)
        for index in range(0, file.pieces, RUN):
            length = min(RUN, merkle.next_power_of_two(file.pieces - index))
            yield HashRequest(file.pieces_root, self._height, index, length, proof_layers)

    def _layer(self, root: bytes) -> bytes:
        file = self._files[root]
        runs = sorted((run.index, hashes) for run, hashes in self._runs.items() if run.pieces_root == root)
        return b"".join(b"".join(hashes or []) for _, hashes in runs)[: 32 * file.pieces]
