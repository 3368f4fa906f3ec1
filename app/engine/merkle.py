"""BEP 52 merkle trees: SHA-256 over 16 KiB blocks, from leaves to pieces roots.

Pure functions over hashes. A file's tree has one leaf per 16 KiB block (the last block
may be shorter); BEP 52: "The remaining leaf hashes beyond the end of the file required
to construct upper layers of the merkle tree are set to zero", so the leaf count is
padded to a power of two with 32 zero bytes, and every padding node above is the hash
of two padding children. The piece layer is the layer where one hash covers
``piece length`` bytes; BEP 52 omits its hashes that cover only padding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

BLOCK_SIZE = 16 * 1024
HASH_SIZE = 32
_ZERO = bytes(HASH_SIZE)
# BEP 52: length "SHOULD NOT be greater than 512"; libtorrent serves up to 8192 (256 KiB of hashes).
MAX_HASHES = 8192


def block_hashes(data: bytes | memoryview) -> list[bytes]:
    """The SHA-256 of each 16 KiB block of ``data`` (the last block may be shorter)."""
    view = memoryview(data)
    return [hashlib.sha256(view[i : i + BLOCK_SIZE]).digest() for i in range(0, len(view), BLOCK_SIZE)]


def next_power_of_two(count: int) -> int:
    return 1 << max(0, count - 1).bit_length()


@lru_cache(maxsize=64)
def pad_hash(height: int) -> bytes:
    """The root of a subtree of 2**height zero leaves."""
    if height == 0:
        return _ZERO
    below = pad_hash(height - 1)
    return hashlib.sha256(below + below).digest()


def root(hashes: Sequence[bytes], width: int, height: int = 0) -> bytes:
    """The root over ``hashes`` padded to ``width`` (a power of two) nodes of ``height``.

    ``height`` is how many layers the given hashes sit above the leaves: it chooses the
    padding node (zero leaves at height 0, their parents at height 1...).
    """
    if width < len(hashes) or width & (width - 1):
        raise ValueError(f"{len(hashes)} hashes do not fit a layer of {width}")
    layer = list(hashes)
    while width > 1:
        pad = pad_hash(height)
        if len(layer) % 2:
            layer.append(pad)
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
        width //= 2
        height += 1
    return layer[0] if layer else pad_hash(height)


def file_root(leaves: Sequence[bytes]) -> bytes:
    """A file's pieces root from its block hashes."""
    return root(leaves, next_power_of_two(len(leaves)))


def piece_layer(leaves: Sequence[bytes], piece_length: int) -> list[bytes]:
    """The piece layer of a file: one hash per ``piece_length`` bytes, padding omitted."""
    per_piece = piece_length // BLOCK_SIZE
    return [root(leaves[i : i + per_piece], per_piece) for i in range(0, len(leaves), per_piece)]


def root_from_layer(layer: Sequence[bytes], piece_length: int) -> bytes:
    """The pieces root of a file from its piece layer (BEP 52 'piece layers' check)."""
    height = (piece_length // BLOCK_SIZE).bit_length() - 1
    return root(layer, next_power_of_two(len(layer)), height)


# --- BEP 52 hash messages: a range of one layer, and the uncles that lead to the root ---


def layers_above(layer: Sequence[bytes], height: int) -> list[list[bytes]]:
    """``layer`` (at ``height`` above the leaves) padded to a power of two, then each layer up
    to the root: result[k] is the layer k steps above ``layer``."""
    width = next_power_of_two(len(layer))
    layers = [list(layer) + [pad_hash(height)] * (width - len(layer))]
    while len(layers[-1]) > 1:
        below = layers[-1]
        layers.append([hashlib.sha256(below[i] + below[i + 1]).digest() for i in range(0, len(below), 2)])
    return layers


def well_formed(index: int, length: int, proof_layers: int, width: int) -> bool:
    """BEP 52: "Index MUST be a multiple of length"; length a power of two within the layer,
    at most MAX_HASHES; the proof stops below the root (as libtorrent checks)."""
    if not 1 <= length <= MAX_HASHES or length & (length - 1) or index < 0 or index % length or index + length > width:
        return False
    return 0 <= proof_layers < width.bit_length() - 1


def proof(layers: list[list[bytes]], index: int, length: int, proof_layers: int) -> list[bytes]:
    """The hashes of a 'hashes' message: layer[index:index+length], then the uncles.

    BEP 52: "the first log2(length)-1 proof layers are omitted", so the uncles start with
    the sibling of the requested range's own subtree root.
    """
    first = length.bit_length() - 1
    uncles = [layers[k][(index >> k) ^ 1] for k in range(first, proof_layers + 1)]
    return layers[0][index : index + length] + uncles


def root_from_proof(
    hashes: Sequence[bytes], index: int, length: int, height: int
) -> tuple[bytes, int]:
    """Walk a 'hashes' message up: the node reached and how many layers above the base it is."""
    node = root(hashes[:length], length, height)
    position = index // length
    for uncle in hashes[length:]:
        node = hashlib.sha256(node + uncle if position % 2 == 0 else uncle + node).digest()
        position //= 2
    return node, length.bit_length() - 1 + len(hashes) - length
