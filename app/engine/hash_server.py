"""Answering BEP 52 hash requests from a v2 torrent's piece layers, as a pure lookup.

We keep the piece layers (from the .torrent or fetched from peers), not the 16 KiB leaf
hashes, so requests for the piece layer are answered and others rejected; BEP 52 says
"Clients are only required to support setting the base layer to the leaf and piece
layers", and a reject is an answer peers handle (libtorrent asks someone else).
"""

from __future__ import annotations

from collections.abc import Mapping

from app.engine import merkle
from app.engine.wire.messages import HashReject, Hashes, HashRequest


class HashServer:
    def __init__(self, piece_layers: Mapping[bytes, bytes], piece_length: int) -> None:
        self._layers = piece_layers
        self._height = (piece_length // merkle.BLOCK_SIZE).bit_length() - 1
        self._trees: dict[bytes, list[list[bytes]]] = {}  # pieces root -> layers_above, built once

    def answer(self, request: HashRequest) -> Hashes | HashReject:
        tree = self._tree(request.pieces_root) if request.base_layer == self._height else None
        width = len(tree[0]) if tree else 0
        if tree is None or not merkle.well_formed(request.index, request.length, request.proof_layers, width):
            return reject(request)
        hashes = merkle.proof(tree, request.index, request.length, request.proof_layers)
        return Hashes(*_fields(request), b"".join(hashes))

    def _tree(self, root: bytes) -> list[list[bytes]] | None:
        if root not in self._trees:
            layer = self._layers.get(root)
            if layer is None:
                return None
            hashes = [layer[i : i + merkle.HASH_SIZE] for i in range(0, len(layer), merkle.HASH_SIZE)]
            self._trees[root] = merkle.layers_above(hashes, self._height)
        return self._trees[root]


def reject(request: HashRequest) -> HashReject:
    """BEP 52: a 'hash reject' has "the same payload as 'hash request' messages"."""
    return HashReject(*_fields(request))


def _fields(request: HashRequest) -> tuple[bytes, int, int, int, int]:
    return request.pieces_root, request.base_layer, request.index, request.length, request.proof_layers
