import asyncio
import errno
import hashlib
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine import bencode
from app.engine.errors import StorageError
from app.engine.metainfo import parse_metainfo
from app.engine.storage import disk
from app.engine.storage.disk import Storage
from app.engine.torrent_options import NORMAL, SKIP, piece_priorities


@dataclass(frozen=True, slots=True)
class File:
    path: tuple[str, ...]
    length: int
    offset: int
    padding: bool


@dataclass(frozen=True, slots=True)
class Info:
    files: tuple[File, ...]
    piece_length: int
    piece_hashes: bytes
    total_length: int


# 17 bytes in pieces of 4: piece 0 = a[0:4], 1 = a[4] + c, 2..4 = d
FILES = [("t/a", 5), ("t/empty", 0), ("t/c", 3), ("t/sub/d", 9), ("t/last-empty", 0)]


def make_info(files: list[tuple[str, int]], piece_length: int) -> tuple[Info, bytes]:
    """Random content; files under a `.pad` folder are BEP 47 padding (zeros)."""
    rng = random.Random(7)
    entries, parts, offset = [], [], 0
    for name, length in files:
        padding = "/.pad/" in name
        entries.append(File(tuple(name.split("/")), length, offset, padding))
        parts.append(bytes(length) if padding else rng.randbytes(length))
        offset += length
    data = b"".join(parts)
    hashes = b"".join(
        hashlib.sha1(data[i : i + piece_length]).digest() for i in range(0, len(data), piece_length)
    )
    return Info(tuple(entries), piece_length, hashes, len(data)), data


def pieces_of(data: bytes, piece_length: int) -> list[bytes]:
    return [data[i : i + piece_length] for i in range(0, len(data), piece_length)]


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
def save(tmp_path: Path) -> Path:
    return tmp_path / "save"


async def opened(
    save: Path, executor: ThreadPoolExecutor, files: list[tuple[str, int]] = FILES, pl: int = 4,
    open_files: disk.OpenFiles | None = None,
) -> tuple[Storage, bytes]:
    info, data = make_info(files, pl)
    storage = Storage(info, save, executor, open_files=open_files)
    await storage.open()
    return storage, data


async def write_all(storage: Storage, data: bytes) -> None:
    for piece, chunk in enumerate(pieces_of(data, storage.layout.piece_length)):
        await storage.write_piece(piece, chunk)


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_open_creates_the_empty_files_only(save: Path, executor) -> None:
    storage, _ = await opened(save, executor)
    assert (save / "t/empty").stat().st_size == 0
    assert (save / "t/last-empty").is_file()
    assert sorted(p.name for p in (save / "t").iterdir()) == ["empty", "last-empty"]
    await storage.close()


async def test_a_file_and_its_folders_are_made_by_its_first_write(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await storage.write_piece(2, data[8:12])
    assert (save / "t/sub/d").read_bytes()[:4] == data[8:12]
    assert not (save / "t/a").exists() and not (save / "t/c").exists()
    await storage.close()


async def test_write_then_read_back_across_file_boundaries(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    assert (save / "t/a").read_bytes() == data[0:5]
    assert (save / "t/c").read_bytes() == data[5:8]
    assert (save / "t/sub/d").read_bytes() == data[8:17]
    for piece, chunk in enumerate(pieces_of(data, 4)):
        assert await storage.read(piece, 0, len(chunk)) == chunk
    assert await storage.read(1, 0, 2) == data[4:6]  # a's last byte, c's first
    assert await storage.read(1, 3, 1) == data[7:8]
    assert await storage.read(4, 0, 1) == data[16:17]
    assert await storage.read(2, 1, 0) == b""
    await storage.close()


async def test_files_are_sized_at_first_write(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await storage.write_piece(3, data[12:16])
    assert (save / "t/sub/d").stat().st_size == 9
    assert (save / "t/sub/d").read_bytes()[4:8] == data[12:16]
    await storage.close()


@pytest.mark.parametrize(
    ("piece", "offset", "length"), [(0, 0, 5), (0, -1, 2), (4, 1, 1), (5, 0, 1), (-1, 0, 1)]
)
async def test_read_outside_the_piece(save: Path, executor, piece, offset, length) -> None:
    storage, _ = await opened(save, executor)
    with pytest.raises(ValueError):
        await storage.read(piece, offset, length)


async def test_write_of_the_wrong_size(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    with pytest.raises(ValueError):
        await storage.write_piece(4, data[12:16])


async def test_io_before_open(save: Path, executor) -> None:
    info, data = make_info(FILES, 4)
    with pytest.raises(RuntimeError):
        await Storage(info, save, executor).write_piece(0, data[:4])


async def test_read_missing_and_short_files(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    with pytest.raises(StorageError) as missing:
        await storage.read(0, 0, 4)
    assert str(missing.value) == "No such file or directory while reading 't/a'"
    assert missing.value.__cause__.errno == errno.ENOENT
    await write_all(storage, data)
    await storage.close()
    os.truncate(save / "t/sub/d", 5)
    with pytest.raises(StorageError, match="'t/sub/d' is shorter than expected"):
        await storage.read(3, 0, 4)


async def test_verify_and_write(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    bad = bytearray(data[0:4])
    bad[2] ^= 1
    assert await storage.verify_and_write(0, bad) is False
    assert not (save / "t/a").exists()
    assert await storage.verify_and_write(0, memoryview(data)[0:4]) is True
    assert (save / "t/a").read_bytes()[:4] == data[0:4]
    await storage.close()


async def test_check_complete(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    seen: list[tuple[int, int]] = []
    result = await storage.check(lambda done, total: seen.append((done, total)))
    assert result.is_complete()
    assert seen[-1] == (5, 5)
    await storage.close()


async def test_check_progress_per_batch(save: Path, executor, monkeypatch) -> None:
    monkeypatch.setattr(disk, "_BATCH_BYTES", 4)  # one piece per job
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    seen: list[int] = []
    result = await storage.check(lambda done, total: seen.append(done))
    assert list(result) == [0, 1, 2, 3, 4]
    assert seen == sorted(seen) and seen[-1] == 5 and len(seen) >= 3
    await storage.close()


async def test_check_with_half_the_files(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    await storage.close()
    os.unlink(save / "t/a")
    assert list(await storage.check()) == [2, 3, 4]


async def test_check_truncated_and_corrupt(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    await storage.close()
    os.truncate(save / "t/sub/d", 4)
    with open(save / "t/c", "r+b") as f:
        f.write(bytes([data[5] ^ 0xFF]))
    assert list(await storage.check()) == [0, 2]


async def test_check_missing_data_reads_nothing(save: Path, executor, monkeypatch) -> None:
    storage, _ = await opened(save, executor)

    def no_reads(fd: int, length: int, offset: int) -> bytes:
        raise AssertionError("check() read a piece whose files are missing")

    monkeypatch.setattr(disk, "_pread", no_reads)
    result = await storage.check()
    assert result.count == 0 and len(result) == 5


async def test_check_only_the_given_pieces(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    assert list(await storage.check(pieces=iter([4, 1]))) == [1, 4]
    await storage.close()


async def test_check_reads_in_bounded_chunks(save: Path, executor, monkeypatch) -> None:
    storage, data = await opened(save, executor, pl=16)
    await write_all(storage, data)
    await storage.close()
    lengths: list[int] = []

    def recording_pread(fd: int, length: int, offset: int) -> bytes:
        lengths.append(length)
        return os.pread(fd, length, offset)

    monkeypatch.setattr(disk, "_CHUNK", 3)
    monkeypatch.setattr(disk, "_pread", recording_pread)
    assert (await storage.check()).is_complete()
    assert max(lengths) == 3


async def test_padding_files_are_never_created(save: Path, executor) -> None:
    files = [("t/a", 3), ("t/.pad/1", 1), ("t/b", 4)]
    storage, data = await opened(save, executor, files)
    assert await storage.verify_and_write(0, data[0:4])
    await storage.write_piece(1, data[4:8])
    assert not (save / "t/.pad").exists()
    assert await storage.read(0, 2, 2) == data[2:3] + b"\0"
    assert (await storage.check()).is_complete()
    await storage.delete_files()
    assert not save.joinpath("t").exists()


async def test_unwritable_folder(tmp_path: Path, executor) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    save = a_file / "sub"
    info, _ = make_info(FILES, 4)
    with pytest.raises(StorageError) as caught:
        await Storage(info, save, executor).open()
    assert str(caught.value) == f"Not a directory while creating folder '{save}'"
    assert caught.value.__cause__.errno == errno.ENOTDIR


async def test_folder_where_a_file_should_be(save: Path, executor) -> None:
    (save / "t/a").mkdir(parents=True)
    storage, data = await opened(save, executor)
    with pytest.raises(StorageError, match=r"^Is a directory while writing 't/a'$"):
        await storage.write_piece(0, data[0:4])


async def test_disk_full(save: Path, executor, monkeypatch) -> None:
    storage, data = await opened(save, executor)

    def full(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(disk, "_pwrite", full)
    with pytest.raises(StorageError) as caught:
        await storage.write_piece(1, data[4:8])
    assert str(caught.value) == "No space left on device while writing 't/a'"
    assert caught.value.__cause__.errno == errno.ENOSPC
    await storage.close()


async def test_short_writes_are_completed(save: Path, executor, monkeypatch) -> None:
    monkeypatch.setattr(disk, "_pwrite", lambda fd, data, offset: os.pwrite(fd, data[:3], offset))
    storage, data = await opened(save, executor, pl=16)
    await write_all(storage, data)
    await storage.close()
    assert (save / "t/sub/d").read_bytes() == data[8:17]


async def test_seek_fallbacks_round_trip(save: Path, executor, monkeypatch) -> None:
    monkeypatch.setattr(disk, "_pwrite", disk._seek_write)
    monkeypatch.setattr(disk, "_pread", disk._seek_read)
    storage, data = await opened(save, executor)
    await asyncio.gather(*(storage.write_piece(p, c) for p, c in enumerate(pieces_of(data, 4))))
    assert await storage.read(1, 0, 4) == data[4:8]
    assert (await storage.check()).is_complete()
    await storage.close()


async def test_symlinked_folder_escaping_save_dir(tmp_path: Path, save: Path, executor) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    save.mkdir()
    (save / "t").symlink_to(outside)
    info, _ = make_info(FILES, 4)
    with pytest.raises(StorageError, match="'t/a' would be outside the download folder"):
        await Storage(info, save, executor).open()
    assert list(outside.iterdir()) == []


async def test_symlinked_file_escaping_save_dir(tmp_path: Path, save: Path, executor) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    (save / "t").mkdir(parents=True)
    (save / "t/c").symlink_to(secret)
    info, _ = make_info(FILES, 4)
    with pytest.raises(StorageError, match="'t/c' would be outside"):
        await Storage(info, save, executor).open()
    assert secret.read_bytes() == b"secret"


async def test_symlink_inside_save_dir_is_followed(save: Path, executor) -> None:
    (save / "real").mkdir(parents=True)
    (save / "t").symlink_to(save / "real")
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    await storage.close()
    assert (save / "real/sub/d").read_bytes() == data[8:17]


async def test_folder_swapped_for_a_symlink_after_open(
    tmp_path: Path, save: Path, executor
) -> None:
    storage, data = await opened(save, executor)
    outside = tmp_path / "outside"
    outside.mkdir()
    (save / "t/sub").symlink_to(outside)
    with pytest.raises(StorageError, match="'t/sub/d' now leads through a symbolic link"):
        await storage.write_piece(3, data[12:16])
    assert list(outside.iterdir()) == []


async def test_no_folder_is_made_through_a_symlink_that_appeared_after_open(
    tmp_path: Path, save: Path, executor
) -> None:
    info, data = make_info(FILES, 4)
    storage = Storage(info, save, executor)
    storage.set_skipped([1, 4])  # nothing under t/ is made at open
    await storage.open()
    outside = tmp_path / "outside"
    outside.mkdir()
    (save / "t").symlink_to(outside)
    with pytest.raises(StorageError, match="'t/sub/d' now leads through a symbolic link"):
        await storage.write_piece(3, data[12:16])
    storage.set_skipped([])
    await storage.close()
    assert list(outside.iterdir()) == []


async def test_delete_files_removes_only_the_torrents_files(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    (save / "t/keep.txt").write_text("mine")
    (save / "other.txt").write_text("other")
    await storage.delete_files()
    assert sorted(p.name for p in (save / "t").iterdir()) == ["keep.txt"]
    assert (save / "other.txt").read_text() == "other"


async def test_delete_files_removes_emptied_folders(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await write_all(storage, data)
    await storage.delete_files()
    assert save.is_dir() and list(save.iterdir()) == []


async def test_fd_cache_is_bounded(save: Path, executor) -> None:
    files = [(f"t/{i:02}", 1) for i in range(20)]
    before = fd_count()
    storage, data = await opened(save, executor, files, pl=2, open_files=disk.OpenFiles(4))
    await write_all(storage, data)
    assert fd_count() - before <= 4
    await storage.close()
    await storage.close()
    assert fd_count() == before


async def test_one_cache_bounds_the_descriptors_of_many_storages(tmp_path: Path, executor) -> None:
    """Issue 19: the bound is the session's, not each torrent's (10,000 x 64 would be 640,000)."""
    shared = disk.OpenFiles(3)
    files = [(f"t/{i:02}", 1) for i in range(6)]
    before = fd_count()
    storages = []
    for n in range(5):
        storage, data = await opened(tmp_path / str(n), executor, files, pl=2, open_files=shared)
        await write_all(storage, data)
        storages.append(storage)
        assert fd_count() - before <= 3 and len(shared) <= 3
    assert await storages[0].read(0, 0, 2) == data[0:2]  # its descriptors were closed: reopened
    for storage in storages:
        await storage.close()
    assert fd_count() == before and len(shared) == 0


async def test_concurrent_jobs_with_a_tiny_fd_cache(save: Path, executor) -> None:
    files = [(f"t/{i:02}", 3) for i in range(30)]
    storage, data = await opened(save, executor, files, pl=4, open_files=disk.OpenFiles(2))
    chunks = pieces_of(data, 4)
    results = await asyncio.gather(*(storage.verify_and_write(p, c) for p, c in enumerate(chunks)))
    assert all(results)
    reads = await asyncio.gather(*(storage.read(p, 0, len(c)) for p, c in enumerate(chunks)))
    assert reads == chunks
    await storage.close()
    assert b"".join((save / f"t/{i:02}").read_bytes() for i in range(30)) == data


async def test_read_then_write_reopens_the_file_writable(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    before = fd_count()
    await write_all(storage, data)
    await storage.close()
    assert await storage.read(0, 0, 4) == data[0:4]  # caches a read-only descriptor
    await storage.write_piece(0, data[0:4])
    await storage.close()
    assert fd_count() == before


def test_fd_cache_never_closes_a_descriptor_in_use(tmp_path: Path) -> None:
    paths = [tmp_path / "a", tmp_path / "b"]
    for path in paths:
        path.write_bytes(b"x")
    cache = disk.OpenFiles(1).of("storage")

    def opener(index: int, writable: bool) -> int:
        return os.open(paths[index], os.O_RDWR if writable else os.O_RDONLY)

    with cache.use(0, False, opener) as first:
        with cache.use(1, False, opener) as second:
            cache.close_all()
            with cache.use(0, True, opener) as upgraded:
                assert os.pread(first, 1, 0) == os.pread(second, 1, 0) == b"x"
                assert os.pwrite(upgraded, b"y", 0) == 1
        with pytest.raises(OSError):
            os.fstat(second)
        assert os.pread(first, 1, 0) == b"y"
    with pytest.raises(OSError):
        os.fstat(first)
    cache.close_all()


# -- skipped files (issue 4) ----------------------------------------------------


async def test_skipped_empty_files_are_not_made_at_open(save: Path, executor) -> None:
    info, _ = make_info(FILES, 4)
    storage = Storage(info, save, executor)
    storage.set_skipped([1])
    await storage.open()
    assert [p.name for p in (save / "t").iterdir()] == ["last-empty"]
    await storage.close()


async def test_unskipping_an_empty_file_after_open_makes_it(save: Path, executor) -> None:
    info, _ = make_info(FILES, 4)
    storage = Storage(info, save, executor)
    storage.set_skipped([0, 1, 4])
    await storage.open()
    assert save.is_dir() and list(save.iterdir()) == []
    storage.set_skipped([0, 4])
    await storage.close()  # waits for the files set_skipped makes
    assert [p.name for p in (save / "t").iterdir()] == ["empty"]
    storage.set_skipped([0, 1, 4])  # skipping again leaves the file where it is
    storage.set_skipped([0, 1, 4])
    await storage.close()
    assert (save / "t/empty").is_file() and not (save / "t/last-empty").exists()


async def test_an_empty_file_that_cannot_be_made_is_logged(save: Path, executor, caplog) -> None:
    info, _ = make_info(FILES, 4)
    storage = Storage(info, save, executor)
    storage.set_skipped([1, 4])
    await storage.open()
    (save / "t").write_text("a file where the folder should be")
    storage.set_skipped([])
    await storage.close()
    assert "Not a directory while creating 't/empty'" in caplog.text


def test_set_skipped_refuses_unknown_files(save: Path, executor) -> None:
    info, _ = make_info(FILES, 4)
    storage = Storage(info, save, executor)
    for bad in ([5], [-1]):
        with pytest.raises(ValueError, match="a file index is 0 to 4"):
            storage.set_skipped(bad)


async def test_missing_files_and_folders_are_pieces_not_on_disk(save: Path, executor) -> None:
    storage, data = await opened(save, executor)
    await storage.write_piece(0, data[0:4])
    assert not (save / "t/sub").exists()
    assert list(await storage.check()) == [0]
    with pytest.raises(StorageError) as missing:
        await storage.read(3, 0, 4)
    assert str(missing.value) == "No such file or directory while reading 't/sub/d'"
    await storage.flush()
    await storage.delete_files()
    assert save.is_dir() and list(save.iterdir()) == []


async def test_delete_files_of_a_storage_never_opened(save: Path, executor) -> None:
    (save / "t").mkdir(parents=True)
    (save / "t/c").write_bytes(b"old")
    info, _ = make_info(FILES, 4)
    await Storage(info, save, executor).delete_files()
    assert list(save.iterdir()) == []


async def test_selective_download_leaves_the_skipped_file_out(save: Path, executor) -> None:
    """A real torrent: 3 piece-aligned files, the middle one skipped, plus two 0-byte files."""
    rng = random.Random(4)
    contents = {"a.bin": rng.randbytes(16), "skipped/mid.bin": rng.randbytes(8)}
    contents["c.bin"] = rng.randbytes(11)  # pieces of 8: a = 0, 1; mid = 2; c = 3, 4
    names = [*contents, "skipped/none.txt", "wanted.txt"]
    data = b"".join(contents.values())
    info = {
        b"name": b"sel",
        b"piece length": 8,
        b"pieces": b"".join(hashlib.sha1(data[i : i + 8]).digest() for i in range(0, len(data), 8)),
        b"files": [
            {b"path": name.encode().split(b"/"), b"length": len(contents.get(name, b""))}
            for name in names
        ],
    }
    metainfo = parse_metainfo(bencode.encode({b"info": info}))
    priorities = [NORMAL, SKIP, NORMAL, SKIP, NORMAL]
    storage = Storage(metainfo, save, executor)
    per_piece = piece_priorities(storage.layout, priorities, [f.padding for f in metainfo.files])
    wanted = [piece for piece, priority in enumerate(per_piece) if priority != SKIP]
    assert wanted == [0, 1, 3, 4]
    storage.set_skipped(i for i, priority in enumerate(priorities) if priority == SKIP)
    await storage.open()
    for piece in wanted:
        assert await storage.verify_and_write(piece, data[piece * 8 : piece * 8 + 8])
    await storage.flush()
    await storage.close()
    root = save / "sel"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["a.bin", "c.bin", "wanted.txt"]
    assert (root / "a.bin").read_bytes() == contents["a.bin"]
    assert (root / "c.bin").read_bytes() == contents["c.bin"]
    assert (root / "wanted.txt").read_bytes() == b""
    assert list(await storage.check()) == wanted
    await storage.delete_files()
    assert list(save.iterdir()) == []


# -- the part file (issue 19) ----------------------------------------------------


async def test_a_skipped_neighbours_bytes_go_to_the_part_file_and_back(save: Path, executor) -> None:
    """Pieces of 8 over files of 12 and 10 bytes: piece 1 is shared by a (skipped) and b."""
    data = random.Random(19).randbytes(22)
    info = {
        b"name": b"pf",
        b"piece length": 8,
        b"pieces": b"".join(hashlib.sha1(data[i : i + 8]).digest() for i in range(0, 22, 8)),
        b"files": [{b"path": [b"a"], b"length": 12}, {b"path": [b"b"], b"length": 10}],
    }
    metainfo = parse_metainfo(bencode.encode({b"info": info}))
    storage = Storage(metainfo, save, executor)
    storage.set_skipped([0])
    await storage.open()
    for piece in (1, 2):
        assert await storage.verify_and_write(piece, data[piece * 8 : piece * 8 + 8])
    part = save / storage.part_name
    assert sorted(p.name for p in (save / "pf").iterdir()) == ["b"] and part.stat().st_size == 4  # a's last 4 bytes, in slot 0
    assert await storage.read(1, 0, 8) == data[8:16]
    assert list(await storage.check()) == [1, 2]
    storage.set_skipped([])
    await storage.close()  # waits for the move out of the part file
    assert not part.exists()
    assert (save / "pf" / "a").read_bytes()[8:] == data[8:12]
    assert list(await storage.check()) == [1, 2]
    await storage.delete_files()
    assert list(save.iterdir()) == []


async def test_delete_files_removes_the_part_file(save: Path, executor) -> None:
    data = random.Random(20).randbytes(22)
    info = {
        b"name": b"pf",
        b"piece length": 8,
        b"pieces": b"".join(hashlib.sha1(data[i : i + 8]).digest() for i in range(0, 22, 8)),
        b"files": [{b"path": [b"a"], b"length": 12}, {b"path": [b"b"], b"length": 10}],
    }
    storage = Storage(parse_metainfo(bencode.encode({b"info": info})), save, executor)
    storage.set_skipped([1])
    await storage.open()
    assert await storage.verify_and_write(1, data[8:16])
    assert (save / storage.part_name).exists()
    await storage.delete_files()
    assert list(save.iterdir()) == []


async def test_a_flush_with_nothing_written_since_the_last_costs_no_job(
    save: Path, executor, monkeypatch
) -> None:
    """Issue 19: 9,000 idle seeds are flushed at each resume save; only written files are synced."""
    storage, data = await opened(save, executor)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(disk.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    await storage.flush()
    assert synced == []  # nothing written yet
    await write_all(storage, data)
    await storage.flush()
    assert synced  # what was written is synced
    synced.clear()
    await storage.flush()
    assert synced == []  # and not again
    await storage.write_piece(0, data[0:4])
    await storage.flush()
    assert synced
    await storage.close()


async def test_a_written_file_is_synced_when_the_cache_closes_it(save: Path, executor, monkeypatch) -> None:
    """flush() syncs the open descriptors only: one the cache closes first is synced then."""
    files = [(f"t/{i:02}", 4) for i in range(3)]
    storage, data = await opened(save, executor, files, pl=4, open_files=disk.OpenFiles(1))
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(disk.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    await storage.write_piece(0, data[0:4])
    assert synced == []
    await storage.write_piece(1, data[4:8])  # file 0's descriptor makes room for file 1's
    assert len(synced) == 1
    await storage.close()
    assert len(synced) == 2
