"""BEP 52 torrents in app/engine/metainfo.py: libtorrent's v2 and hybrid torrents, and broken ones."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from app.engine.bencode import decode, encode
from app.engine.errors import MetainfoError
from app.engine.metainfo import parse_info, parse_metainfo, to_torrent_bytes

KIB = 1024
PIECE = 32 * KIB
SIZES = {"a.bin": 100_000, "empty": 0, "sub/b.txt": 5_000}
FLAGS = {"v2": lt.create_torrent.v2_only, "hybrid": 0}


def libtorrent_torrent(root: Path, format: str, sizes: dict[str, int] = SIZES) -> bytes:
    for name, size in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(os.urandom(size))
    entries = [lt.create_file_entry(f"{root.name}/{name}", size) for name, size in sorted(sizes.items())]
    creator = lt.create_torrent(entries, PIECE, FLAGS[format])
    lt.set_piece_hashes(creator, str(root.parent))
    return bytes(lt.bencode(creator.generate()))


@pytest.fixture(params=["v2", "hybrid"])
def made(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, bytes]:
    return request.param, libtorrent_torrent(tmp_path / "tree", request.param)


def test_info_hashes_and_files_equal_libtorrents(made: tuple[str, bytes]) -> None:
    format, data = made
    meta = parse_metainfo(data)
    info = lt.torrent_info(data)
    hashes = info.info_hashes()
    assert meta.format == format
    assert meta.info_hash_v2 is not None and meta.info_hash_v2.hex() == str(hashes.v2)
    expected_id = str(hashes.v1) if format == "hybrid" else str(hashes.v2)[:40]  # BEP 52: truncated
    assert meta.info_hash.hex() == expected_id
    assert meta.num_pieces == info.num_pieces()
    real = [(entry.path[1:], entry.length, entry.offset) for entry in meta.files if not entry.padding]
    assert real == [(("a.bin",), 100_000, 0), (("empty",), 0, 4 * PIECE), (("sub", "b.txt"), 5_000, 4 * PIECE)]
    roots = {entry.path[-1]: entry.pieces_root for entry in meta.files if entry.length and not entry.padding}
    assert roots["a.bin"] in meta.piece_layers and roots["b.txt"] not in meta.piece_layers


def test_the_piece_layers_survive_a_round_trip(made: tuple[str, bytes]) -> None:
    meta = parse_metainfo(made[1])
    assert parse_metainfo(to_torrent_bytes(meta)) == meta


def test_a_v2_only_single_file_is_padded_to_whole_pieces_like_libtorrent(tmp_path: Path) -> None:
    data = libtorrent_torrent(tmp_path / "one", "v2", {"x.bin": 40_000})
    meta = parse_metainfo(data)
    assert not meta.multi_file and meta.files[0].length == 40_000
    assert meta.total_length == lt.torrent_info(data).total_size() == 2 * PIECE


def test_metadata_from_a_magnet_needs_no_piece_layers(made: tuple[str, bytes]) -> None:
    meta = parse_metainfo(made[1])
    bare = parse_info(meta.raw_info)
    assert bare.info_hash == meta.info_hash and bare.piece_layers == {}
    assert parse_info(meta.raw_info, piece_layers=meta.piece_layers).piece_layers == meta.piece_layers


# --- broken torrents: one plain sentence each ----------------------------------------


def edited(data: bytes, change: Callable[[dict[bytes, Any]], None]) -> bytes:
    top = decode(data)
    change(top)
    return encode(top)


def a_bin_root(top: dict[bytes, Any]) -> bytes:
    return top[b"info"][b"file tree"][b"a.bin"][b""][b"pieces root"]


def drop_layers(top: dict[bytes, Any]) -> None:
    del top[b"piece layers"]


def short_layer(top: dict[bytes, Any]) -> None:
    top[b"piece layers"][a_bin_root(top)] = top[b"piece layers"][a_bin_root(top)][:-32]


def wrong_layer(top: dict[bytes, Any]) -> None:
    layer = top[b"piece layers"][a_bin_root(top)]
    top[b"piece layers"][a_bin_root(top)] = bytes(32) + layer[32:]


def wrong_root(top: dict[bytes, Any]) -> None:
    top[b"info"][b"file tree"][b"a.bin"][b""][b"pieces root"] = bytes(32)


def info_change(key: bytes, value: Any) -> Callable[[dict[bytes, Any]], None]:
    return lambda top: top[b"info"].__setitem__(key, value)


def tree_change(change: Callable[[dict[bytes, Any]], None]) -> Callable[[dict[bytes, Any]], None]:
    return lambda top: change(top[b"info"][b"file tree"])


V2_BREAKAGES = [
    (lambda top: top.__setitem__(b"piece layers", [1]), "'piece layers' must be a dictionary"),
    (short_layer, "the piece layer of 'tree/a.bin' must hold 4 hashes of 32 bytes"),
    (wrong_layer, "the piece layer of 'tree/a.bin' does not match its pieces root"),
    (wrong_root, "'piece layers' has no hashes for 'tree/a.bin'"),
    (info_change(b"piece length", 48 * KIB), "is not a power of two of 16 KiB or more"),
    (info_change(b"piece length", 8 * KIB), "is not a power of two of 16 KiB or more"),
    (info_change(b"meta version", 3), "meta version 3, which Piecemeal cannot read"),
    (info_change(b"file tree", {}), "'file tree' must be a non-empty dictionary"),
    (info_change(b"file tree", {b"": {b"length": 1}}), "must be a folder, not a file"),
    (tree_change(lambda tree: tree[b"sub"].__setitem__(b"", {b"length": 0})), "is both a file and a folder"),
    (tree_change(lambda tree: tree[b"sub"][b"b.txt"][b""].pop(b"pieces root")), "'pieces root' must be"),
    (tree_change(lambda tree: tree[b"a.bin"][b""].__setitem__(b"length", -1)), "non-negative integer"),
    (tree_change(lambda tree: tree.__setitem__(b"..", {b"": {b"length": 0}})), "outside the download folder"),
]


@pytest.mark.parametrize("format", ["v2", "hybrid"])
@pytest.mark.parametrize("change, message", V2_BREAKAGES)
def test_broken_v2_metadata_is_refused(
    format: str, change: Callable[[dict[bytes, Any]], None], message: str, tmp_path: Path
) -> None:
    data = edited(libtorrent_torrent(tmp_path / "tree", format), change)
    with pytest.raises(MetainfoError) as caught:
        parse_metainfo(data)
    assert message in str(caught.value)


def test_a_v2_only_torrent_needs_its_piece_layers(tmp_path: Path) -> None:
    with pytest.raises(MetainfoError, match="'piece layers' must be a dictionary"):
        parse_metainfo(edited(libtorrent_torrent(tmp_path / "tree", "v2"), drop_layers))


def test_a_hybrid_without_piece_layers_loads_its_pieces_are_checked_by_sha1(tmp_path: Path) -> None:
    """As saved after a magnet link brought only the info dictionary."""
    meta = parse_metainfo(edited(libtorrent_torrent(tmp_path / "tree", "hybrid"), drop_layers))
    assert meta.format == "hybrid" and meta.piece_layers == {}
    assert parse_metainfo(to_torrent_bytes(meta)) == meta


def misalign(top: dict[bytes, Any]) -> None:
    """The first pad file one byte shorter, the last one byte longer: same size, same piece count."""
    files = top[b"info"][b"files"]
    files[1][b"length"] -= 1
    files[-1][b"length"] += 1


def rename_v1_file(top: dict[bytes, Any]) -> None:
    top[b"info"][b"files"][0][b"path"] = [b"other.bin"]


@pytest.mark.parametrize(
    "change, message",
    [
        (misalign, "'tree/sub/b.txt' does not start at a piece boundary"),
        (rename_v1_file, "the v1 file list and the v2 file tree of this hybrid torrent differ"),
    ],
)
def test_a_hybrid_whose_halves_disagree_is_refused(
    change: Callable[[dict[bytes, Any]], None], message: str, tmp_path: Path
) -> None:
    data = edited(libtorrent_torrent(tmp_path / "tree", "hybrid"), change)
    with pytest.raises(MetainfoError) as caught:
        parse_metainfo(data)
    assert message in str(caught.value)
