"""BEP 52 merkle trees, checked against hashlib by hand and against libtorrent's torrents."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import libtorrent as lt

from app.engine import merkle
from app.engine.bencode import decode

KIB = 1024


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_a_file_of_one_short_block_is_its_own_root() -> None:
    assert merkle.file_root(merkle.block_hashes(b"hello")) == sha(b"hello")


def test_three_blocks_are_padded_with_a_zero_leaf() -> None:
    data = os.urandom(2 * 16 * KIB + 5)
    a, b, c = (sha(data[i : i + 16 * KIB]) for i in range(0, len(data), 16 * KIB))
    expected = sha(sha(a + b) + sha(c + bytes(32)))
    assert merkle.file_root(merkle.block_hashes(data)) == expected


def test_pad_hash_of_higher_layers_hashes_zero_children() -> None:
    assert merkle.pad_hash(0) == bytes(32)
    assert merkle.pad_hash(2) == sha(sha(bytes(64)) * 2)


def test_the_piece_layer_leads_to_the_same_root() -> None:
    leaves = merkle.block_hashes(os.urandom(5 * 64 * KIB + 100))
    layer = merkle.piece_layer(leaves, 64 * KIB)
    assert len(layer) == 6
    assert merkle.root_from_layer(layer, 64 * KIB) == merkle.file_root(leaves)


def test_root_refuses_a_width_that_is_not_a_power_of_two() -> None:
    try:
        merkle.root([bytes(32)] * 3, 3)
    except ValueError as error:
        assert "do not fit" in str(error)
    else:
        raise AssertionError("a width of 3 was accepted")


def test_roots_and_layers_equal_libtorrents(tmp_path: Path) -> None:
    content = tmp_path / "big.bin"
    content.write_bytes(os.urandom(300_001))
    entries = [lt.create_file_entry("big.bin", 300_001)]
    creator = lt.create_torrent(entries, 32 * KIB, lt.create_torrent.v2_only)
    lt.set_piece_hashes(creator, str(tmp_path))
    top = decode(lt.bencode(creator.generate()))
    root = top[b"info"][b"file tree"][b"big.bin"][b""][b"pieces root"]
    leaves = merkle.block_hashes(content.read_bytes())
    assert merkle.file_root(leaves) == root
    assert b"".join(merkle.piece_layer(leaves, 32 * KIB)) == top[b"piece layers"][root]
