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
