"""A corpus of torrents whose names try to leave the save folder: each is refused with a
clear message or made safe, the same way every time, and nothing is written outside."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.engine import bencode
from app.engine.errors import MetainfoError
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState
from app.engine.storage.disk import Storage
from tests.swarm_helpers import assert_same_files, running_session, torrent_snapshot, wait_for_state

PIECE_LENGTH = 16384

# (torrent name, file paths or None for a single file) -> what the refusal says
REFUSED: dict[str, tuple[bytes, list[list[bytes]] | None, str]] = {
    "dotdot-name": (b"..", None, "the file path '..' is unsafe: '..' would lead outside"),
    "dotdot-path": (b"t", [[b"..", b"..", b"etc", b"passwd"]], "the file path '../../etc/passwd' is unsafe"),
    "dotdot-inside-component": (b"t", [[b"a/../../x"]], "the file path 'a/../../x' is unsafe"),
    "dotdot-backslashes": (b"t", [[b"..\\..\\evil.dll"]], "the file path '..\\..\\evil.dll' is unsafe"),
    "absolute-name": (b"/tmp/evil", None, "the file path '/tmp/evil' is unsafe: it is absolute"),
    "absolute-path": (b"t", [[b"/etc", b"cron.d"]], "the file path '/etc/cron.d' is unsafe: it is absolute"),
    "unc-path": (b"t", [[b"\\\\server\\share"]], "it is absolute"),
    "drive-letter": (b"t", [[b"C:", b"Windows"]], "the file path 'C:/Windows' is unsafe: it names a drive"),
    "drive-relative": (b"C:evil", None, "it names a drive"),
    "empty-component": (b"t", [[b"a", b"", b"b"]], "it has an empty or '.' component"),
    "dot-component": (b"t", [[b"."]], "it has an empty or '.' component"),
    "collision-after-cleaning": (b"t", [[b"x?y"], [b"x*y"]], "two files map to the same path 't/x_y'"),
    "collision-by-case": (b"t", [[b"Readme"], [b"README"]], "two files map to the same path"),
    "file-and-folder": (b"t", [[b"a"], [b"a", b"b"]], "'t/a' is both a file and a folder"),
}

# (torrent name, file paths) -> where the files land, relative to the save folder
MADE_SAFE: dict[str, tuple[bytes, list[list[bytes]], list[str]]] = {
    "backslash-separators": (b"t", [[b"dir\\file.txt"]], ["t/dir_file.txt"]),
    "slash-in-component": (b"t", [[b"a/b"]], ["t/a_b"]),
    "nul-and-control": (b"t\x07", [[b"a\x00b"], [b"c\x1fd.txt"]], ["t_/a_b", "t_/c_d.txt"]),
    "windows-reserved": (
        b"CON",
        [[b"nul.txt"], [b"com1.tar.gz"], [b"LPT9"], [b"aux"]],
        ["CON_/nul_.txt", "CON_/com1_.tar.gz", "CON_/LPT9_", "CON_/aux_"],
    ),
    "windows-forbidden-characters": (b"t", [[b'a<b>c"d|e'], [b"ab:c"]], ["t/a_b_c_d_e", "t/ab_c"]),
    "trailing-dots-and-spaces": (b"t. .", [[b"file. . "], [b"..."]], ["t/file", "t/_"]),
    "overlong": (b"t", [[b"x" * 300 + b".txt"]], ["t/" + "x" * 251 + ".txt"]),
    "overlong-multibyte": (b"t", [["é".encode() * 200]], ["t/" + "é" * 127]),
}


def _torrent(name: bytes, paths: list[list[bytes]] | None) -> tuple[bytes, bytes]:
    """A torrent of distinct small files at `paths` (or one file), and its concatenated data."""
    count = 1 if paths is None else len(paths)
    contents = [hashlib.sha256(bytes([i])).digest() * (100 + 37 * i) for i in range(count)]
    data = b"".join(contents)
    pieces = b"".join(hashlib.sha1(data[i : i + PIECE_LENGTH]).digest() for i in range(0, len(data), PIECE_LENGTH))
    info: dict[bytes, object] = {b"name": name, b"piece length": PIECE_LENGTH, b"pieces": pieces}
    if paths is None:
        info[b"length"] = len(data)
    else:
        info[b"files"] = [{b"length": len(c), b"path": p} for c, p in zip(contents, paths, strict=True)]
    return bencode.encode({b"info": info}), data


def _tree(root: Path) -> dict[str, tuple[bool, int, str]]:
    """Every entry under root: is it a link, its size, where a link points."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            link = os.readlink(path) if path.is_symlink() else ""
            entries[str(path.relative_to(root))] = (path.is_symlink(), path.lstat().st_size, link)
    return entries


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A save folder with a neighbour outside it holding a file; the neighbour must not change."""
    save, outside = tmp_path / "save", tmp_path / "outside"
    save.mkdir()
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"keep me")
    before = _tree(outside), sorted(os.listdir(tmp_path))
    yield save, outside
    assert (_tree(outside), sorted(os.listdir(tmp_path))) == before
    assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize("case", REFUSED)
async def test_an_escaping_torrent_is_refused_with_a_clear_message(
    case: str, layout: tuple[Path, Path],
) -> None:
    name, paths, message = REFUSED[case]
    torrent, _ = _torrent(name, paths)
    with pytest.raises(MetainfoError) as refused:
        parse_metainfo(torrent)
    assert message in str(refused.value), refused.value
    save, _ = layout
    async with running_session() as session:
        with pytest.raises(MetainfoError, match="unsafe|same path|both a file"):
            await session.add_torrent(torrent, save / "never")
    assert not (save / "never").exists()


@pytest.mark.parametrize("case", MADE_SAFE)
async def test_unsafe_names_are_made_safe_and_written_there(case: str, layout: tuple[Path, Path]) -> None:
    name, paths, expected = MADE_SAFE[case]
    torrent, data = _torrent(name, paths)
    meta = parse_metainfo(torrent)
    assert ["/".join(entry.path) for entry in meta.files] == expected
    assert parse_metainfo(torrent).files == meta.files  # the same every time
    save, _ = layout
    await _write_all(meta, data, save)
    written = {path for path in _tree(save) if (save / path).is_file()}
    assert written == set(expected)
    assert b"".join((save / path).read_bytes() for path in expected) == data


async def _write_all(meta: Metainfo, data: bytes, save: Path) -> None:
    with ThreadPoolExecutor(2) as executor:
        storage = Storage(meta, save, executor)
        await storage.open()
        for piece in range(meta.num_pieces):
            await storage.write_piece(piece, data[piece * PIECE_LENGTH : (piece + 1) * PIECE_LENGTH])
        await storage.close()


async def test_a_torrent_made_safe_downloads_to_the_same_names_everywhere(layout: tuple[Path, Path]) -> None:
    """The seed's and the leecher's copies land at the same cleaned names."""
    name, paths, expected = MADE_SAFE["windows-reserved"]
    torrent, data = _torrent(name, paths)
    save, _ = layout
    await _write_all(parse_metainfo(torrent), data, save / "seed")
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, save / "seed")
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, save / "leech")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    assert_same_files(save / "seed", save / "leech", expected)


@pytest.mark.parametrize(
    ("name", "paths", "link"),
    [
        (b"evil", [[b"x.bin"]], "evil"),  # the torrent's folder is a link to outside
        (b"t", [[b"sub", b"x.bin"]], "t/sub"),  # a folder deeper in is
        (b"precious.txt", None, "precious.txt"),  # the file itself is a link to a file outside
    ],
)
async def test_a_symlink_in_the_save_folder_pointing_outside_is_never_followed(
    layout: tuple[Path, Path], name: bytes, paths: list[list[bytes]] | None, link: str
) -> None:
    save, outside = layout
    (save / link).parent.mkdir(parents=True, exist_ok=True)
    target = outside / "precious.txt" if paths is None else outside
    (save / link).symlink_to(target)
    torrent, _ = _torrent(name, paths)
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, save)
        snapshot = await _wait_for_error(session, info_hash)
    assert "would be outside the download folder" in snapshot.error
    assert snapshot.status_text.startswith("Error: ")
    assert (outside / "precious.txt").read_bytes() == b"keep me"


async def _wait_for_error(session: Session, info_hash: str) -> TorrentSnapshot:
    async with asyncio.timeout(10):
        while (snapshot := torrent_snapshot(session, info_hash)).reason != StopReason.ERROR:
            await asyncio.sleep(0.02)
    return snapshot
