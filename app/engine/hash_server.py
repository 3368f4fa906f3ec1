"""Answering BEP 52 hash requests from a v2 torrent's piece layers and, below them, its data.

Pure. We keep the piece layers (from the .torrent or fetched from peers), not the 16 KiB leaf
hashes. A request whose base layer is the piece layer or above it is answered at once from the
piece layers. BEP 52: "Clients are only required to support setting the base layer to the leaf
and piece layers", and "MUST NOT reject a hash request with a base layer of zero if it
immediately follows a request for one of the chunks in the requested range": a request below
the piece layer gets `LeafWork`, the pieces whose data must be read and hashed first, and
`leaf_answer` completes it from that data. The work is bounded: at most LEAF_BYTES of data (or
one piece, if pieces are larger), and the caller decides who may ask (see Torrent.hash_request).
Anything else is rejected; a reject is an answer peers handle (libtorrent asks someone else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.engine import merkle
from app.engine.metainfo import FileEntry
from app.engine.wire.messages import HashReject, Hashes, HashRequest

LEAF_BYTES = 16 * 1024 * 1024  # the most data one request below the piece layer makes us read and hash
_ZERO_LEAF = bytes(merkle.HASH_SIZE)


@dataclass(frozen=True, slots=True)
class _FileTree:
    """One file's tree from its piece layer up (`upper[0]` padded to a power of two), `height`
    layers above the leaves. A file of one piece has no piece layer: its root is its one piece."""

    upper: list[list[bytes]]
    height: int
    pieces: int  # pieces holding its data (the rest of upper[0] is padding)
    first_piece: int  # its first piece's number in the torrent
    length: int


@dataclass(frozen=True, slots=True)
class LeafWork:
    """A request below the piece layer: read `pieces` (torrent-wide numbers) and give their data,
    in order, to `leaf_answer`."""

    request: HashRequest
    tree: _FileTree
    covered: range  # the file's pieces under the requested range, padding pieces included
    pieces: range
    piece_length: int


class HashServer:
    def __init__(self, piece_layers: Mapping[bytes, bytes], piece_length: int, files: Sequence[FileEntry] = ()) -> None:
        self._layers = piece_layers
        self._piece_length = piece_length
        self._height = (piece_length // merkle.BLOCK_SIZE).bit_length() - 1
        self._files = {f.pieces_root: f for f in files if f.pieces_root and f.length and not f.padding}
        self._trees: dict[bytes, _FileTree] = {}  # pieces root -> its tree, built once

    def answer(self, request: HashRequest) -> Hashes | HashReject | LeafWork:
        tree = self._tree(request.pieces_root)
        if tree is None:
            return reject(request)
        if request.base_layer < tree.height:
            return self._leaf_work(request, tree)
        layers = tree.upper[request.base_layer - tree.height :]
        if not layers or not merkle.well_formed(request.index, request.length, request.proof_layers, len(layers[0])):
            return reject(request)
        hashes = merkle.proof(layers, request.index, request.length, request.proof_layers)
        return Hashes(*_fields(request), b"".join(hashes))

    def _leaf_work(self, request: HashRequest, tree: _FileTree) -> LeafWork | HashReject:
        if not tree.length:
            return reject(request)  # a piece layer without its file: no data to hash
        shift = tree.height - request.base_layer
        width = len(tree.upper[0]) << shift
        if not merkle.well_formed(request.index, request.length, request.proof_layers, width):
            return reject(request)
        covered = range(request.index >> shift, ((request.index + request.length - 1) >> shift) + 1)
        with_data = range(covered.start, min(covered.stop, tree.pieces))
        if len(with_data) > max(1, LEAF_BYTES // self._piece_length):
            return reject(request)
        pieces = range(tree.first_piece + with_data.start, tree.first_piece + max(with_data.start, with_data.stop))
        return LeafWork(request, tree, covered, pieces, self._piece_length)

    def _tree(self, root: bytes) -> _FileTree | None:
        if root not in self._trees:
            tree = self._built(root)
            if tree is None:
                return None
            self._trees[root] = tree
        return self._trees[root]

    def _built(self, root: bytes) -> _FileTree | None:
        entry = self._files.get(root)
        first = entry.offset // self._piece_length if entry is not None else 0
        length = entry.length if entry is not None else 0
        layer = self._layers.get(root)
        if layer is not None:
            hashes = [layer[i : i + merkle.HASH_SIZE] for i in range(0, len(layer), merkle.HASH_SIZE)]
            return _FileTree(merkle.layers_above(hashes, self._height), self._height, len(hashes), first, length)
        if entry is None or entry.length > self._piece_length:
            return None  # a file we do not know, or whose piece layer we do not have yet
        # BEP 52: a file of one piece is a tree only as tall as its blocks need.
        height = merkle.next_power_of_two(-(-entry.length // merkle.BLOCK_SIZE)).bit_length() - 1
        return _FileTree([[root]], height, 1, first, length)


def leaf_answer(work: LeafWork, data: Sequence[bytes | memoryview]) -> Hashes | HashReject:
    """Complete `work` from its pieces' data; a reject if the data no longer has the hash it had
    when it was verified (changed on disk since). Pure, so it may run off the event loop."""
    tree, request = work.tree, work.request
    subtrees = []
    for n, piece in enumerate(work.covered):
        subtree = _piece_subtree(work, piece, data[n]) if piece < tree.pieces else _padding_subtree(tree.height)
        if subtree is None:
            return reject(request)
        subtrees.append(subtree)
    base = request.base_layer
    # below[k]: the covered pieces' nodes k layers above the base, below the piece layer
    below = [[node for subtree in subtrees for node in subtree[base + k]] for k in range(tree.height - base)]
    hashes = _range(below[0], work.covered.start << (tree.height - base), request.index, request.length)
    for k in range(request.length.bit_length() - 1, request.proof_layers + 1):
        uncle = (request.index >> k) ^ 1  # BEP 52: one uncle per proof layer, the first ones omitted
        if base + k >= tree.height:
            hashes.append(tree.upper[base + k - tree.height][uncle])
        else:
            hashes += _range(below[k], work.covered.start << (tree.height - base - k), uncle, 1)
    return Hashes(*_fields(request), b"".join(hashes))


def _piece_subtree(work: LeafWork, piece: int, data: bytes | memoryview) -> list[list[bytes]] | None:
    """The piece's layers from its leaves up to its hash, None if that is not the known hash."""
    tree = work.tree
    size = min(work.piece_length, tree.length - piece * work.piece_length)
    leaves = merkle.block_hashes(memoryview(data)[:size])
    leaves += [_ZERO_LEAF] * ((1 << tree.height) - len(leaves))  # BEP 52: zero leaves past the end
    layers = merkle.layers_above(leaves, 0)
    return layers if layers[-1][0] == tree.upper[0][piece] else None


def _padding_subtree(height: int) -> list[list[bytes]]:
    """A piece past the end of the file: padding all the way up."""
    return [[merkle.pad_hash(k)] * (1 << (height - k)) for k in range(height + 1)]


def _range(layer: list[bytes], first: int, index: int, length: int) -> list[bytes]:
    """layer[index:index+length] of a layer known only from node `first` on."""
    return layer[index - first : index - first + length]


def reject(request: HashRequest) -> HashReject:
    """BEP 52: a 'hash reject' has "the same payload as 'hash request' messages"."""
    return HashReject(*_fields(request))


def _fields(request: HashRequest) -> tuple[bytes, int, int, int, int]:
    return request.pieces_root, request.base_layer, request.index, request.length, request.proof_layers
