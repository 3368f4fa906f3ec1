"""FileCopy on real files: progress, holes kept, no overwriting, catching up, undo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.engine.errors import StorageError
from app.engine.mover import CHUNK, FileCopy, MoveCancelled, copy_error


def tree(root: Path, files: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def pairs(old: Path, new: Path, names: list[str]) -> list[tuple[Path, Path]]:
    return [(old / name, new / name) for name in names]


def test_copies_every_existing_file_and_counts_progress(tmp_path: Path) -> None:
    files = {"t/a.bin": os.urandom(3 * CHUNK + 5), "t/sub/b.bin": b"b" * 10}
    tree(tmp_path / "old", files)
    job = FileCopy(pairs(tmp_path / "old", tmp_path / "new", [*files, "t/skipped.bin"]), tmp_path / "new")
    assert job.total == 3 * CHUNK + 15
    job.copy_all()
    assert job.done == job.total and job.status().progress == 1.0
    for name, data in files.items():
        assert (tmp_path / "new" / name).read_bytes() == data
    assert not (tmp_path / "new" / "t" / "skipped.bin").exists()


def test_runs_of_zeros_stay_holes(tmp_path: Path) -> None:
    data = bytes(8 * CHUNK) + b"end"
    tree(tmp_path / "old", {"sparse.bin": data})
    FileCopy(pairs(tmp_path / "old", tmp_path / "new", ["sparse.bin"]), tmp_path / "new").copy_all()
    copied = tmp_path / "new" / "sparse.bin"
    assert copied.read_bytes() == data
    assert copied.stat().st_blocks * 512 < 2 * CHUNK  # only the last chunk was written


def test_an_existing_target_stops_the_copy_before_anything_is_written(tmp_path: Path) -> None:
    tree(tmp_path / "old", {"a": b"new data", "b": b"more"})
    tree(tmp_path / "new", {"b": b"someone else's"})
    job = FileCopy(pairs(tmp_path / "old", tmp_path / "new", ["a", "b"]), tmp_path / "new")
    with pytest.raises(StorageError, match="already exists"):
        job.copy_all()
    assert not (tmp_path / "new" / "a").exists()
    assert (tmp_path / "new" / "b").read_bytes() == b"someone else's"


def test_undo_removes_the_copies_and_the_folders_it_made_only(tmp_path: Path) -> None:
    tree(tmp_path / "old", {"t/deep/a": b"a", "t/b": b"b"})
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "keep.txt").write_text("the user's")
    job = FileCopy(pairs(tmp_path / "old", tmp_path / "new", ["t/deep/a", "t/b"]), tmp_path / "new")
    job.copy_all()
    job.undo()
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["keep.txt"]
    assert (tmp_path / "old" / "t" / "deep" / "a").exists()


def test_copy_changed_catches_up_with_files_written_or_created_since(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    tree(old, {"a": b"before", "b": b"same"})
    job = FileCopy(pairs(old, new, ["a", "b", "c"]), new)
    job.copy_all()
    (old / "a").write_bytes(b"after, longer")
    os.utime(old / "a", ns=(1, 1))
    (old / "c").write_bytes(b"created meanwhile")
    b_inode = (new / "b").stat().st_ino
    job.copy_changed()
    assert (new / "a").read_bytes() == b"after, longer"
    assert (new / "c").read_bytes() == b"created meanwhile"
    assert (new / "b").stat().st_ino == b_inode  # unchanged: not copied again


def test_files_not_on_disk_are_left_out_until_a_write_makes_them(tmp_path: Path) -> None:
    """Skipped files exist only once a wanted piece touches them (issue 4), maybe mid-move."""
    old, new = tmp_path / "old", tmp_path / "new"
    tree(old, {"t/a": b"a"})
    job = FileCopy(pairs(old, new, ["t/a", "t/skipped/b", "t/late/c"]), new)
    job.copy_all()
    assert sorted(str(p.relative_to(new)) for p in new.rglob("*")) == ["t", "t/a"]
    tree(old, {"t/late/c": b"written during the move"})
    job.copy_changed()
    assert (new / "t/late/c").read_bytes() == b"written during the move"
    assert not (new / "t/skipped").exists()
    assert job.done == job.total == 24
    job.undo()
    assert not new.exists()
    assert sorted(str(p.relative_to(old)) for p in old.rglob("*")) == ["t", "t/a", "t/late", "t/late/c"]


def test_a_cancelled_copy_stops_at_the_next_chunk(tmp_path: Path) -> None:
    tree(tmp_path / "old", {"a": os.urandom(2 * CHUNK)})
    job = FileCopy(pairs(tmp_path / "old", tmp_path / "new", ["a"]), tmp_path / "new")
    job.cancelled = True
    with pytest.raises(MoveCancelled):
        job.copy_all()
    assert job.done == 0


def test_copy_error_is_one_plain_sentence(tmp_path: Path) -> None:
    exc = OSError(28, "No space left on device", str(tmp_path / "new" / "a"))
    message = copy_error(exc, tmp_path / "new")
    assert message.startswith(f"Could not move the files to '{tmp_path / 'new'}': No space left on device")
    assert message.endswith("they stay where they were")
