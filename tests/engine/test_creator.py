import hashlib
import os
import threading
from pathlib import Path

import libtorrent as lt
import pytest

from app.engine import creator
from app.engine.bencode import decode
from app.engine.creator import CreationCancelled, choose_piece_length, create_torrent
from app.engine.errors import MetainfoError, StorageError
from app.engine.metainfo import parse_metainfo

KIB = 1024
MIB = 1024 * KIB


def pattern(size: int, seed: int) -> bytes:
    return hashlib.shake_256(seed.to_bytes(4, "big")).digest(size) if size else b""


def expected_pieces(data: bytes, piece_length: int) -> bytes:
    return b"".join(
        hashlib.sha1(data[start : start + piece_length]).digest()
        for start in range(0, len(data), piece_length)
    )


def libtorrent_pieces(root: Path, files: list[tuple[str, int]], piece_length: int) -> bytes:
    """libtorrent's own v1 piece hashes for the same files in the same order."""
    entries = [lt.create_file_entry(f"{root.name}/{relative}", size) for relative, size in files]
    torrent = lt.create_torrent(entries, piece_length, lt.create_torrent.v1_only)
    lt.set_piece_hashes(torrent, str(root.parent))
    return bytes(torrent.generate()[b"info"][b"pieces"])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Odd sizes: an empty file, one under 16 KiB, a hidden one, a short last piece."""
    root = tmp_path / "share"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "empty_dir").mkdir()
    (root / "b.bin").write_bytes(pattern(100_003, 1))
    (root / "a.txt").write_bytes(pattern(5_000, 2))
    (root / "sub" / "zero").write_bytes(b"")
    (root / "sub" / "c.dat").write_bytes(pattern(40_000, 3))
    (root / ".hidden" / "d").write_bytes(pattern(1, 4))
    (root / "link").symlink_to(root / "b.bin")
    (root / "sub" / "loop").symlink_to(root)
    return root


TREE_ORDER = [
    (".hidden/d", 1),
    ("a.txt", 5_000),
    ("b.bin", 100_003),
    ("sub/c.dat", 40_000),
    ("sub/zero", 0),
]


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, 16 * KIB),
        (1, 16 * KIB),
        (2000 * 16 * KIB, 16 * KIB),
        (2000 * 16 * KIB + 1, 32 * KIB),
        (700 * MIB, 512 * KIB),
        (4 * 1024 * MIB, 4 * MIB),
        (2**50, 16 * MIB),
    ],
)
def test_choose_piece_length(total: int, expected: int) -> None:
    assert choose_piece_length(total) == expected


def test_chosen_piece_counts_stay_in_range() -> None:
    for total in (64 * MIB, 300 * MIB + 7, 3 * 1024 * MIB, 20 * 1024 * MIB):
        count = -(-total // choose_piece_length(total))
        assert 1000 <= count <= 2000


def test_folder_layout_order_and_skipped_entries(tree: Path) -> None:
    data = create_torrent(tree, piece_length=16 * KIB, creation_date=1)
    meta = parse_metainfo(data)
    assert meta.name == "share"
    assert meta.multi_file
    offsets = [0]
    for _, size in TREE_ORDER:
        offsets.append(offsets[-1] + size)
    assert [(f.path, f.length, f.offset) for f in meta.files] == [
        (("share", *relative.split("/")), size, offset)
        for (relative, size), offset in zip(TREE_ORDER, offsets, strict=False)
    ]


def test_folder_pieces_match_hashlib_and_libtorrent(tree: Path) -> None:
    data = create_torrent(tree, piece_length=16 * KIB, creation_date=1)
    meta = parse_metainfo(data)
    concatenated = b"".join((tree / relative).read_bytes() for relative, _ in TREE_ORDER)
    assert meta.piece_hashes == expected_pieces(concatenated, 16 * KIB)
    assert meta.piece_hashes == libtorrent_pieces(tree, TREE_ORDER, 16 * KIB)
    assert meta.piece_size(meta.num_pieces - 1) == len(concatenated) % (16 * KIB)
    info = lt.torrent_info(lt.bdecode(data))
    assert str(info.info_hashes().v1) == meta.info_hash_hex
    assert [info.hash_for_piece(i) for i in range(info.num_pieces())] == [
        meta.piece_hash(i) for i in range(meta.num_pieces)
    ]


def test_pieces_larger_than_the_read_chunk(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    content = pattern(5 * MIB + 12_345, 5)
    path.write_bytes(content)
    meta = parse_metainfo(create_torrent(path, piece_length=2 * MIB, creation_date=1))
    assert meta.piece_hashes == expected_pieces(content, 2 * MIB)
    assert [meta.piece_size(i) for i in range(3)] == [2 * MIB, 2 * MIB, MIB + 12_345]


def test_single_file_smaller_than_a_piece(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"hello")
    data = create_torrent(path, creation_date=1)
    meta = parse_metainfo(data)
    assert not meta.multi_file
    assert meta.name == "note.txt"
    assert meta.piece_length == 16 * KIB
    assert meta.piece_hashes == hashlib.sha1(b"hello").digest()
    assert meta.files[0].path == ("note.txt",)
    assert str(lt.torrent_info(lt.bdecode(data)).info_hashes().v1) == meta.info_hash_hex


def test_empty_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "folder" / "inner").mkdir(parents=True)
    (tmp_path / "folder" / "zero").write_bytes(b"")
    for target in ("empty", "folder"):
        with pytest.raises(MetainfoError, match="contains no data to share"):
            create_torrent(tmp_path / target)


def test_the_same_bytes_whatever_the_worker_count(tree: Path) -> None:
    outputs = {
        create_torrent(tree, piece_length=16 * KIB, creation_date=7, workers=workers)
        for workers in (1, 2, 5)
    }
    assert len(outputs) == 1


def test_many_batches_keep_order(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(creator, "_BATCH_BYTES", 16 * KIB)  # one piece per batch
    monkeypatch.setattr(creator, "_READ_CHUNK", 4 * KIB)  # several reads per piece
    data = create_torrent(tree, piece_length=16 * KIB, creation_date=1, workers=3)
    concatenated = b"".join((tree / relative).read_bytes() for relative, _ in TREE_ORDER)
    assert parse_metainfo(data).piece_hashes == expected_pieces(concatenated, 16 * KIB)


def test_top_level_fields(tree: Path) -> None:
    data = create_torrent(
        tree,
        trackers=[["udp://127.0.0.1:6969/announce"], [" http://127.0.0.1:80/a ", ""], []],
        private=True,
        comment="made for tests",
        web_seeds=["https://127.0.0.1/share/"],
        created_by="tester 1",
        creation_date=1_700_000_000,
    )
    top = decode(data)
    assert top[b"announce"] == b"udp://127.0.0.1:6969/announce"
    assert top[b"announce-list"] == [
        [b"udp://127.0.0.1:6969/announce"],
        [b"http://127.0.0.1:80/a"],
    ]
    assert top[b"info"][b"private"] == 1
    meta = parse_metainfo(data)
    assert meta.private
    assert meta.comment == "made for tests"
    assert meta.url_list == ("https://127.0.0.1/share/",)
    assert (meta.created_by, meta.creation_date) == ("tester 1", 1_700_000_000)


def test_one_tracker_means_no_announce_list(tree: Path) -> None:
    top = decode(create_torrent(tree, trackers=[["udp://127.0.0.1:1"]], creation_date=1))
    assert top[b"announce"] == b"udp://127.0.0.1:1"
    assert b"announce-list" not in top
    bare = decode(create_torrent(tree, creation_date=1))
    assert b"announce" not in bare and b"comment" not in bare and b"url-list" not in bare
    assert b"private" not in bare[b"info"]


def test_creation_date_defaults_to_now(tree: Path) -> None:
    import time

    before = int(time.time())
    date = parse_metainfo(create_torrent(tree)).creation_date
    assert date is not None and before <= date <= int(time.time())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trackers": [["wss://127.0.0.1/"]]}, "'wss://127.0.0.1/' is not an http, https or udp"),
        ({"web_seeds": ["ftp://127.0.0.1/"]}, "'ftp://127.0.0.1/' is not an http or https"),
        ({"piece_length": 3 * 16 * KIB}, "must be a power of two from 16 KiB to 128 MiB"),
        ({"piece_length": 8 * KIB}, "must be a power of two from 16 KiB to 128 MiB"),
        ({"piece_length": 256 * MIB}, "must be a power of two from 16 KiB to 128 MiB"),
    ],
)
def test_bad_options(tree: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(MetainfoError, match=message):
        create_torrent(tree, **options)  # type: ignore[arg-type]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"cannot read .*gone.*: No such file"):
        create_torrent(tmp_path / "gone")


def test_names_our_own_loader_would_refuse(tmp_path: Path) -> None:
    (tmp_path / "pair").mkdir()
    (tmp_path / "pair" / "Readme").write_bytes(b"1")
    (tmp_path / "pair" / "README").write_bytes(b"2")
    with pytest.raises(MetainfoError, match="two files map to the same path"):
        create_torrent(tmp_path / "pair")


def test_progress_reports_in_order_up_to_the_total(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(creator, "_BATCH_BYTES", 32 * KIB)
    reports: list[tuple[int, int]] = []
    create_torrent(tree, piece_length=16 * KIB, progress=lambda *r: reports.append(r), workers=2)
    total = sum(size for _, size in TREE_ORDER)
    assert len(reports) == 5
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
    assert reports[-1] == (total, total)
    assert {whole for _, whole in reports} == {total}


def test_cancel_before_start(tree: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CreationCancelled):
        create_torrent(tree, cancel=cancel)


def test_cancel_midway_stops_hashing(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(creator, "_BATCH_BYTES", 16 * KIB)
    cancel = threading.Event()
    reports: list[int] = []

    def on_progress(done: int, total: int) -> None:
        reports.append(done)
        cancel.set()

    with pytest.raises(CreationCancelled):
        create_torrent(tree, piece_length=16 * KIB, progress=on_progress, cancel=cancel, workers=1)
    total = sum(size for _, size in TREE_ORDER)
    assert len(reports) <= 2 < total // (16 * KIB)  # at most the batches already in flight


def test_file_shrinking_while_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(pattern(50_000, 6))
    real_hash_pieces = creator._hash_pieces

    def truncate_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        os.truncate(path, 10_000)
        return real_hash_pieces(*args, **kwargs)

    monkeypatch.setattr(creator, "_hash_pieces", truncate_first)
    with pytest.raises(StorageError, match="shrank while it was being hashed"):
        create_torrent(path)


@pytest.mark.parametrize("format, flags", [("v2", lt.create_torrent.v2_only), ("hybrid", 0)])
@pytest.mark.parametrize("sizes", [{"only.bin": 100_003}, {"a.bin": 100_003, "empty": 0, "sub/b.txt": 5_000}])
def test_v2_and_hybrid_info_dictionaries_equal_libtorrents(
    format: str, flags: int, sizes: dict[str, int], tmp_path: Path
) -> None:
    root = tmp_path / "share"
    for number, (name, size) in enumerate(sizes.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(pattern(size, number))
    source = root / "only.bin" if len(sizes) == 1 else root
    prefix = "" if len(sizes) == 1 else "share/"
    entries = [lt.create_file_entry(prefix + name, size) for name, size in sorted(sizes.items())]
    theirs = lt.create_torrent(entries, 32 * KIB, flags)
    lt.set_piece_hashes(theirs, str(source.parent))
    ours = parse_metainfo(create_torrent(source, piece_length=32 * KIB, format=format, creation_date=1))
    assert ours.raw_info == lt.bencode(theirs.generate()[b"info"])
    assert ours.format == format
