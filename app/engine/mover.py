"""Copying a torrent's files to another folder or disk, with progress, undone on failure.

The copy runs in a thread while the torrent goes on seeding from the old place; `FileCopy`
only copies, checks what changed meanwhile and undoes; the switch to the new place is the
caller's (the session's controls). Runs of zero bytes are skipped rather than written, so
the sparse files of a partial download stay sparse in their new place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from app.engine.errors import StorageError

CHUNK: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MoveStatus:
    destination: str
    total: int  # bytes to copy
    done: int
    error: str  # "" unless the move failed (the files stayed where they were)
    finished: bool

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else 1.0


class MoveCancelled(Exception):
    """The torrent was removed, or the session closed, while its files were being copied."""


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_size, info.st_mtime_ns


class FileCopy:
    """Copies (source, target) file pairs; `done` counts bytes copied, for progress.

    `copy_all`, `copy_changed` and `undo` block: run them in a thread. A target that
    exists already is never overwritten: the copy fails before anything is written.
    """

    def __init__(self, pairs: list[tuple[Path, Path]], destination: Path) -> None:
        self.destination = destination
        self._pairs = pairs
        self.total = sum(stamp[0] for src, _ in pairs if (stamp := _stamp(src)) is not None)
        self.done = 0
        self.cancelled = False
        self.error = ""
        self.finished = False
        self._copied: dict[Path, tuple[int, int] | None] = {}  # source -> its stamp when copied
        self._created: list[Path] = []  # files and folders made here, for `undo`

    def status(self) -> MoveStatus:
        return MoveStatus(str(self.destination), self.total, self.done, self.error, self.finished)

    def copy_all(self) -> None:
        existing = [(src, dst) for src, dst in self._pairs if _stamp(src) is not None]
        for _, dst in existing:
            if dst.exists():
                raise StorageError(f"'{dst}' already exists; nothing was moved")
        for src, dst in existing:
            self._copy(src, dst)

    def copy_changed(self) -> None:
        """Copy again the files written to since they were copied, and those created since."""
        for src, dst in self._pairs:
            stamp = _stamp(src)
            if stamp is None or self._copied.get(src) == stamp:
                continue
            if src in self._copied:
                dst.unlink()
            self.total += stamp[0]
            self._copy(src, dst)

    def undo(self) -> None:
        """Remove what the copy made: the new files, then the folders it created, deepest first."""
        for path in reversed(self._created):
            try:
                if path.is_dir():
                    path.rmdir()
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass  # a folder someone else put files in stays

    def _copy(self, src: Path, dst: Path) -> None:
        self._make_folders(dst.parent)
        self._copied[src] = _stamp(src)
        with open(src, "rb") as source, open(dst, "xb") as target:
            self._created.append(dst)
            while chunk := source.read(CHUNK):
                if self.cancelled:
                    raise MoveCancelled
                if chunk.count(0) == len(chunk):
                    target.seek(len(chunk), os.SEEK_CUR)  # a hole stays a hole
                else:
                    target.write(chunk)
                self.done += len(chunk)
            target.truncate()
            target.flush()
            os.fsync(target.fileno())

    def _make_folders(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir()
            self._created.append(path)


def copy_error(exc: OSError | StorageError, destination: Path) -> str:
    """One plain sentence for a failed move."""
    if isinstance(exc, StorageError):
        return str(exc)
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    where = f" ('{exc.filename}')" if exc.filename else ""
    return f"Could not move the files to '{destination}': {reason}{where}; they stay where they were"
