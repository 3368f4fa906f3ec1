"""What a piece's hash must be, and how to compute it: SHA-1 (BEP 3) or a merkle root (BEP 52).

Pure: hashers are fed the piece's bytes in order, in chunks of any size. A v2-only
torrent's piece is the merkle root of its 16 KiB blocks, compared with the piece layer, or
with the pieces root for a file of one piece. A hybrid torrent's piece must match both
(BEP 52: "During the download they must also verify that pieces match both piece hash
formats"), as libtorrent checks them; its BEP 47 pad files make every v1 piece hold the
same bytes as the v2 piece. Where the piece layer is not known (a hybrid from a magnet
link), SHA-1 alone decides.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Protocol

from app.engine.merkle import BLOCK_SIZE, HASH_SIZE, next_power_of_two, root

_SHA1_SIZE = 20  # BEP 3: `pieces` is a string of 20-byte SHA-1 digests


class PieceHasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class PieceVerifier(Protocol):
    def hasher(self, piece: int) -> PieceHasher: ...

    def expected(self, piece: int) -> bytes | None:
        """The digest the piece must have; None while it is not known (BEP 52 magnet)."""


class V2File(Protocol):
    @property
    def length(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def padding(self) -> bool: ...

    @property
    def pieces_root(self) -> bytes: ...


class Sha1Pieces:
    """BEP 3: the SHA-1 of each piece, from the concatenated `pieces` string."""

    def __init__(self, piece_hashes: bytes) -> None:
        self._hashes = piece_hashes

    def hasher(self, piece: int) -> PieceHasher:
        return hashlib.sha1()

    def expected(self, piece: int) -> bytes:
        return self._hashes[piece * _SHA1_SIZE : (piece + 1) * _SHA1_SIZE]


class MerkleHasher:
    """The merkle root over the first `data_length` bytes fed in; the rest is padding."""

    def __init__(self, data_length: int, width: int) -> None:
        self._left = data_length
        self._width = width
        self._leaves: list[bytes] = []
        self._partial = bytearray()

    def update(self, data: bytes | memoryview, /) -> None:
        view = memoryview(data)[: self._left]
        self._left -= len(view)
        if self._partial:
            taken = view[: BLOCK_SIZE - len(self._partial)]
            self._partial += taken
            view = view[len(taken) :]
            if len(self._partial) < BLOCK_SIZE:
                return
            self._leaves.append(hashlib.sha256(self._partial).digest())
            self._partial = bytearray()
        whole = len(view) - len(view) % BLOCK_SIZE
        self._leaves += [hashlib.sha256(view[i : i + BLOCK_SIZE]).digest() for i in range(0, whole, BLOCK_SIZE)]
        self._partial += view[whole:]

    def digest(self) -> bytes:
        leaves = self._leaves + ([hashlib.sha256(self._partial).digest()] if self._partial else [])
        return root(leaves, self._width)


class MerklePieces:
    """BEP 52: every non-empty file starts a piece; a piece never holds two files' bytes."""

    def __init__(
        self, files: Sequence[V2File], piece_length: int, piece_layers: Mapping[bytes, bytes]
    ) -> None:
        self._files = [f for f in files if f.length and not f.padding]
        self._first = [f.offset // piece_length for f in self._files]
        self._piece_length = piece_length
        self._layers = piece_layers

    def hasher(self, piece: int) -> PieceHasher:
        entry, index = self._locate(piece)
        data_length = min(self._piece_length, entry.length - index * self._piece_length)
        if entry.length > self._piece_length:
            return MerkleHasher(data_length, self._piece_length // BLOCK_SIZE)
        # BEP 52: a file of one piece has no piece layer; its tree is only as wide as it needs.
        return MerkleHasher(data_length, next_power_of_two(-(-entry.length // BLOCK_SIZE)))

    def expected(self, piece: int) -> bytes | None:
        entry, index = self._locate(piece)
        if entry.length <= self._piece_length:
            return entry.pieces_root
        layer = self._layers.get(entry.pieces_root)
        return None if layer is None else layer[index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def _locate(self, piece: int) -> tuple[V2File, int]:
        """The file holding the piece, and the piece's number inside that file."""
        k = bisect_right(self._first, piece) - 1
        if k < 0:
            raise ValueError(f"piece {piece} holds no file's data")
        return self._files[k], piece - self._first[k]


class _Both:
    """Feeds a SHA-1 and (when its digest is known) a merkle hasher the same bytes."""

    def __init__(self, sha1: PieceHasher, merkle: PieceHasher | None) -> None:
        self._sha1 = sha1
        self._merkle = merkle

    def update(self, data: bytes | memoryview, /) -> None:
        self._sha1.update(data)
        if self._merkle is not None:
            self._merkle.update(data)

    def digest(self) -> bytes:
        return self._sha1.digest() + (self._merkle.digest() if self._merkle is not None else b"")


class HybridPieces:
    """BEP 52 upgrade path: the SHA-1 and the merkle root of a piece, both checked."""

    def __init__(self, sha1: Sha1Pieces, merkle: MerklePieces) -> None:
        self._sha1 = sha1
        self._merkle = merkle

    def hasher(self, piece: int) -> PieceHasher:
        known = self._merkle.expected(piece) is not None
        return _Both(self._sha1.hasher(piece), self._merkle.hasher(piece) if known else None)

    def expected(self, piece: int) -> bytes:
        return self._sha1.expected(piece) + (self._merkle.expected(piece) or b"")


class VerifiedInfo(Protocol):
    @property
    def format(self) -> str: ...

    @property
    def files(self) -> Sequence[V2File]: ...

    @property
    def piece_length(self) -> int: ...

    @property
    def piece_hashes(self) -> bytes: ...

    @property
    def piece_layers(self) -> Mapping[bytes, bytes]: ...


def verifier_for(meta: VerifiedInfo) -> PieceVerifier:
    """SHA-1 for v1 torrents, merkle roots for v2-only ones, both for hybrids (see above)."""
    if meta.format == "v1":
        return Sha1Pieces(meta.piece_hashes)
    merkle = MerklePieces(meta.files, meta.piece_length, meta.piece_layers)
    return merkle if meta.format == "v2" else HybridPieces(Sha1Pieces(meta.piece_hashes), merkle)
