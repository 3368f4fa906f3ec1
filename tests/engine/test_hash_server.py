"""BEP 52 hash requests at every base layer, checked against proofs cut from each file's whole tree.

Pure: the files' data is made here, the tree built from all its leaves is the reference, and the
server sees only the piece layers and, for requests below them, the pieces' data.
"""

from __future__ import annotations

import os

import pytest

from app.engine import merkle
from app.engine.hash_server import LEAF_BYTES, HashServer, LeafWork, leaf_answer
from app.engine.metainfo import FileEntry
from app.engine.wire.messages import HashReject, Hashes, HashRequest

PIECE = 64 * 1024  # four blocks: the piece layer is layer 2
SIZES = {"big": 5 * PIECE + merkle.BLOCK_SIZE + 100, "small": 2 * merkle.BLOCK_SIZE + 5, "tiny": 300,
         "mid": merkle.BLOCK_SIZE + 5}


class Files:
    """Files laid out as BEP 52 does: each starts a piece; their data and whole trees."""

    def __init__(self, sizes: dict[str, int] = SIZES, piece: int = PIECE) -> None:
        self.piece = piece
        self.data: dict[bytes, bytes] = {}
        self.full: dict[bytes, list[list[bytes]]] = {}
        self.entries: list[FileEntry] = []
        layers: dict[bytes, bytes] = {}
        offset = 0
        for name, size in sizes.items():
            data = os.urandom(size)
            leaves = merkle.block_hashes(data)
            root = merkle.file_root(leaves)
            self.data[root], self.full[root] = data, merkle.layers_above(leaves, 0)
            if size > piece:
                layers[root] = b"".join(merkle.piece_layer(leaves, piece))
            self.entries.append(FileEntry((name,), size, offset, pieces_root=root))
            offset += -(-size // piece) * piece
        self.server = HashServer(layers, piece, self.entries)

    def root(self, name: str) -> bytes:
        return next(entry.pieces_root for entry in self.entries if entry.path == (name,))

    def piece_data(self, piece: int) -> bytes:
        """The torrent's piece: its file's bytes, then zeros up to the piece length (BEP 47 pads
        of a hybrid; a v2 torrent's last piece of a file is simply shorter)."""
        entry = next(e for e in self.entries if e.offset <= piece * self.piece < e.offset + e.length)
        start = piece * self.piece - entry.offset
        return self.data[entry.pieces_root][start : start + self.piece].ljust(self.piece, b"\0")

    def expected(self, request: HashRequest) -> bytes:
        layers = self.full[request.pieces_root][request.base_layer :]
        return b"".join(merkle.proof(layers, request.index, request.length, request.proof_layers))

    def served(self, request: HashRequest) -> Hashes | HashReject:
        answer = self.server.answer(request)
        if isinstance(answer, LeafWork):
            answer = leaf_answer(answer, [self.piece_data(piece) for piece in answer.pieces])
        return answer


# (file, base layer, index, length, proof layers). The big file has 22 blocks of leaves padded to
# 32, and 6 pieces padded to 8 (layer 2); its root is 5 layers above the leaves.
SERVED = [
    ("big", 2, 0, 8, 1),  # the piece layer, as before
    ("big", 2, 4, 4, 0),  # the piece layer's padding included
    ("big", 3, 0, 4, 1),  # above the piece layer
    ("big", 4, 0, 2, 0),  # the layer just below the root
    ("big", 0, 0, 4, 4),  # one piece's leaves, uncles up to just below the root, as libtorrent asks
    ("big", 0, 20, 4, 4),  # the last piece: a block, a short block and 2 zero leaves
    ("big", 0, 24, 4, 4),  # a piece of padding past the end of the file
    ("big", 0, 16, 8, 4),  # two pieces
    ("big", 0, 6, 2, 4),  # half a piece: the uncles below the piece layer come from its data
    ("big", 0, 0, 32, 4),  # every leaf
    ("big", 1, 2, 2, 3),  # between the leaves and the piece layer
    ("small", 0, 0, 4, 1),  # a file of one piece has no piece layer: its root is its piece
    ("small", 0, 2, 2, 1),
    ("small", 1, 0, 2, 0),
    ("mid", 0, 0, 2, 0),  # a tree only as tall as its blocks need, lower than the piece layer
]


@pytest.mark.parametrize(("name", "base", "index", "length", "proof"), SERVED)
def test_every_layer_is_served_as_the_whole_tree_would_answer(
    name: str, base: int, index: int, length: int, proof: int
) -> None:
    files = Files()
    request = HashRequest(files.root(name), base, index, length, proof)
    answer = files.served(request)
    assert isinstance(answer, Hashes), answer
    assert answer.request == request
    assert answer.hashes == files.expected(request)
    hashes = [answer.hashes[i : i + 32] for i in range(0, len(answer.hashes), 32)]
    node, up = merkle.root_from_proof(hashes, index, length, base)  # what a requester checks
    assert up == max(proof + 1, length.bit_length() - 1)
    assert node == files.full[request.pieces_root][base + up][index >> up]


def test_layers_at_or_above_the_piece_layer_need_no_data() -> None:
    files = Files()
    for base in (2, 3, 4):
        assert isinstance(files.server.answer(HashRequest(files.root("big"), base, 0, 2, 0)), Hashes)


def test_below_the_piece_layer_the_pieces_to_read_are_named() -> None:
    files = Files()
    first_of_small = 6  # the big file's six pieces come first
    work = files.server.answer(HashRequest(files.root("big"), 0, 16, 8, 4))
    assert isinstance(work, LeafWork) and work.pieces == range(4, 6)
    work = files.server.answer(HashRequest(files.root("big"), 0, 24, 4, 4))
    assert isinstance(work, LeafWork) and work.pieces == range(0)  # padding: nothing to read
    work = files.server.answer(HashRequest(files.root("small"), 0, 0, 4, 1))
    assert isinstance(work, LeafWork) and work.pieces == range(first_of_small, first_of_small + 1)


def test_data_that_no_longer_matches_its_hash_is_not_vouched_for() -> None:
    files = Files()
    work = files.server.answer(HashRequest(files.root("big"), 0, 4, 4, 4))
    assert isinstance(work, LeafWork)
    changed = bytearray(files.piece_data(1))
    changed[5] ^= 1
    assert isinstance(leaf_answer(work, [bytes(changed)]), HashReject)


@pytest.mark.parametrize(
    ("name", "base", "index", "length", "proof"),
    [
        ("big", 0, 2, 4, 4),  # not a multiple of the length
        ("big", 0, 0, 3, 4),  # not a power of two
        ("big", 0, 32, 2, 1),  # past the layer
        ("big", 0, 0, 2, 5),  # the root itself has no sibling
        ("big", 5, 0, 1, 0),  # above the root
        ("small", 2, 0, 1, 0),  # a one-piece file's root alone: nothing to prove
        ("tiny", 0, 0, 2, 0),  # one leaf: the layer is narrower than the range
        ("mid", 1, 0, 1, 0),  # its root
    ],
)
def test_requests_no_tree_can_answer_are_rejected(name: str, base: int, index: int, length: int, proof: int) -> None:
    files = Files()
    assert isinstance(files.server.answer(HashRequest(files.root(name), base, index, length, proof)), HashReject)


def test_a_file_whose_piece_layer_is_unknown_gets_rejects() -> None:
    files = Files()
    server = HashServer({}, PIECE, files.entries)  # a v2 magnet before its piece layers came
    assert isinstance(server.answer(HashRequest(files.root("big"), 0, 0, 4, 5)), HashReject)
    assert isinstance(server.answer(HashRequest(files.root("big"), 2, 0, 8, 1)), HashReject)


def test_leaf_work_is_bounded_by_the_data_it_reads() -> None:
    piece = 4 * 1024 * 1024
    pieces = LEAF_BYTES // piece
    leaves_per_piece = piece // merkle.BLOCK_SIZE
    root = os.urandom(32)
    layer = os.urandom(32) * (4 * pieces)
    entry = FileEntry(("huge",), 4 * pieces * piece, 0, pieces_root=root)
    server = HashServer({root: layer}, piece, [entry])
    within = server.answer(HashRequest(root, 0, 0, pieces * leaves_per_piece, 3))
    assert isinstance(within, LeafWork) and len(within.pieces) == pieces
    beyond = server.answer(HashRequest(root, 0, 0, 2 * pieces * leaves_per_piece, 3))
    assert isinstance(beyond, HashReject)


def test_one_piece_is_always_within_bounds() -> None:
    """libtorrent asks for one piece's leaves at a time, however large its pieces."""
    piece = 2 * LEAF_BYTES
    root = os.urandom(32)
    entry = FileEntry(("huge",), 4 * piece, 0, pieces_root=root)
    server = HashServer({root: os.urandom(32) * 4}, piece, [entry])
    work = server.answer(HashRequest(root, 0, 0, piece // merkle.BLOCK_SIZE, 1))
    assert isinstance(work, LeafWork) and len(work.pieces) == 1
