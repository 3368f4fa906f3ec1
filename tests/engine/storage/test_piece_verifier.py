"""BEP 52 piece checks: merkle roots per piece against the piece layer, on the disk path too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.engine import merkle
from app.engine.creator import create_torrent
from app.engine.metainfo import Metainfo, parse_info, parse_metainfo
from app.engine.storage.disk import Storage
from app.engine.storage.piece_verifier import MerkleHasher, Sha1Pieces, verifier_for

KIB = 1024
PIECE = 32 * KIB
SIZES = {"a.bin": 100_000, "b.bin": 5_000, "c.bin": 2 * PIECE}


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "seed" / "tree"
    root.mkdir(parents=True)
    for name, size in SIZES.items():
        (root / name).write_bytes(os.urandom(size))
    return root


def v2_meta(content: Path) -> Metainfo:
    return parse_metainfo(create_torrent(content, piece_length=PIECE, format="v2", creation_date=1))


def piece_data(meta: Metainfo, root: Path, piece: int) -> bytes:
    """The piece as it travels on the wire: the file's bytes, then zeros for the alignment gap."""
    whole = b"".join(
        bytes(entry.length) if entry.padding else (root / entry.path[-1]).read_bytes() for entry in meta.files
    )
    return whole[piece * PIECE : (piece + 1) * PIECE]


def test_the_hasher_takes_chunks_of_any_size_and_ignores_padding() -> None:
    data = os.urandom(3 * 16 * KIB + 10)
    whole = MerkleHasher(len(data), 4)
    whole.update(data + bytes(100))
    pieces = MerkleHasher(len(data), 4)
    for start in range(0, len(data) + 100, 7_000):
        pieces.update((data + bytes(100))[start : start + 7_000])
    assert whole.digest() == pieces.digest() == merkle.file_root(merkle.block_hashes(data))


def test_v2_pieces_match_their_layer_and_small_files_their_root(content: Path) -> None:
    meta = v2_meta(content)
    verifier = verifier_for(meta)
    assert meta.num_pieces == 4 + 1 + 2  # a.bin: 4 pieces, b.bin: 1, c.bin: 2, each file aligned
    for piece in range(meta.num_pieces):
        hasher = verifier.hasher(piece)
        hasher.update(piece_data(meta, content, piece))
        assert hasher.digest() == verifier.expected(piece), piece
    small = next(entry for entry in meta.files if entry.path[-1] == "b.bin")
    assert verifier.expected(4) == small.pieces_root


def test_v1_pieces_are_checked_by_sha1(content: Path) -> None:
    meta = parse_metainfo(create_torrent(content, piece_length=PIECE, format="v1", creation_date=1))
    assert isinstance(verifier_for(meta), Sha1Pieces)


def test_hybrid_pieces_must_match_both_hashes(content: Path) -> None:
    """BEP 52: a piece whose SHA-1 is right but whose merkle root is not is refused."""
    meta = parse_metainfo(create_torrent(content, piece_length=PIECE, format="hybrid", creation_date=1))
    big = next(entry for entry in meta.files if entry.path[-1] == "a.bin")
    forged = replace(meta, piece_layers={**meta.piece_layers, big.pieces_root: bytes(32) * 4})
    for verifier, accepted in ((verifier_for(meta), True), (verifier_for(forged), False)):
        hasher = verifier.hasher(0)
        hasher.update(piece_data(meta, content, 0))
        assert (hasher.digest() == verifier.expected(0)) is accepted
    from_magnet = verifier_for(parse_info(meta.raw_info))  # no piece layers: SHA-1 alone decides
    hasher = from_magnet.hasher(0)
    hasher.update(piece_data(meta, content, 0))
    assert hasher.digest() == from_magnet.expected(0)


def test_without_piece_layers_a_big_files_pieces_cannot_be_verified(content: Path) -> None:
    bare = parse_info(v2_meta(content).raw_info)  # a magnet's metadata: no piece layers
    verifier = verifier_for(bare)
    assert verifier.expected(0) is None
    assert verifier.expected(4) is not None  # b.bin fits a piece: its pieces root is enough


async def test_storage_writes_good_v2_pieces_refuses_bad_ones_and_checks_the_disk(
    content: Path, tmp_path: Path, executor: ThreadPoolExecutor
) -> None:
    meta = v2_meta(content)
    storage = Storage(meta, tmp_path / "down", executor, verifier=verifier_for(meta))
    await storage.open()
    good = [piece_data(meta, content, piece) for piece in range(meta.num_pieces)]
    bad = bytearray(good[5])
    bad[100] ^= 1
    assert not await storage.verify_and_write(5, bad)
    for piece, data in enumerate(good):
        assert await storage.verify_and_write(piece, data), piece
    await storage.close()
    for name in SIZES:
        assert (tmp_path / "down" / "tree" / name).read_bytes() == (content / name).read_bytes()
    fresh = Storage(meta, tmp_path / "down", executor, verifier=verifier_for(meta))
    await fresh.open()
    assert list(await fresh.check()) == list(range(meta.num_pieces))
    await fresh.close()
