"""One torrent's files on disk: piece writes, reads and hash checks run in an executor.

The event loop never touches the disk: every method submits one job to the executor.
A file and its folders are created, sparse, by the first write that touches it; the bytes
a wanted piece holds of a skipped file go to the torrent's part file instead
(app/engine/storage/part_file.py), so a skipped file never appears on disk. Nothing writes
a 0-byte file, so those are made at open() unless skipped. Open files stay in a small LRU cache
of file descriptors; reads and writes are positional (pread/pwrite), so jobs for
different pieces run in parallel without sharing a file offset.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import functools
import hashlib
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Buffer, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from app.engine.bitfield import Bitfield
from app.engine.errors import StorageError
from app.engine.storage.layout import Layout, Span
from app.engine.storage.piece_verifier import PieceVerifier, Sha1Pieces
from app.engine.storage.part_file import PartMap, part_file_name

_T = TypeVar("_T")

log = logging.getLogger(__name__)

# Windows opens files in text mode unless told otherwise; elsewhere the flag is 0.
_O_BINARY: int = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
# Descriptors kept open for all torrents together (libtorrent's file_pool_size is 40; a seed
# serving many torrents reads from many files, and Linux's default soft limit is 1,024).
OPEN_FILES = 256
# check() reads at most this much at once per job, whatever the piece length.
_CHUNK = 4 * 1024 * 1024
# check() hands each executor job about this many bytes of pieces.
_BATCH_BYTES = 4 * 1024 * 1024
_HASH_LENGTH = 20  # BEP 3: `pieces` is a string of 20-byte SHA-1 digests
_SEEK_LOCK = threading.Lock()
# rmdir of a folder that is gone, or still holds files that are not the torrent's.
_HARMLESS_RMDIR_ERRNOS = frozenset({errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY})


def _seek_write(fd: int, data: Buffer, offset: int) -> int:
    """pwrite for platforms without it (Windows): seek then write, one thread at a time."""
    with _SEEK_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.write(fd, data)


def _seek_read(fd: int, length: int, offset: int) -> bytes:
    """pread for platforms without it (Windows): seek then read, one thread at a time."""
    with _SEEK_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, length)


# Module-level indirections: the I/O path calls these, so tests can inject OS errors.
_pwrite: Callable[[int, Buffer, int], int] = getattr(os, "pwrite", _seek_write)
_pread: Callable[[int, int, int], bytes] = getattr(os, "pread", _seek_read)


class StorageFile(Protocol):
    """One file of the torrent; `path` is relative to the save folder and already sanitized."""

    @property
    def path(self) -> tuple[str, ...]: ...

    @property
    def length(self) -> int: ...

    @property
    def padding(self) -> bool: ...


class StorageInfo(Protocol):
    """What Storage needs from a torrent's metainfo."""

    @property
    def files(self) -> Sequence[StorageFile]: ...

    @property
    def piece_length(self) -> int: ...

    @property
    def piece_hashes(self) -> bytes: ...

    @property
    def total_length(self) -> int: ...


def _storage_error(exc: OSError, action: str, name: str) -> StorageError:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return StorageError(f"{reason} while {action} '{name}'")


@contextmanager
def _os_errors(action: str, name: str) -> Iterator[None]:
    """Turn an OSError into a StorageError a user can read; the OSError stays as __cause__."""
    try:
        yield
    except OSError as exc:
        raise _storage_error(exc, action, name) from exc


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = _pwrite(fd, data, offset)
        data = data[written:]
        offset += written


def _pread_exact(fd: int, length: int, offset: int) -> bytes | None:
    """Exactly `length` bytes, or None if the file ends first."""
    data = _pread(fd, length, offset)
    if len(data) == length:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = _pread(fd, length - got, offset + got)
        if not more:
            return None
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class _Handle:
    __slots__ = ("fd", "writable", "users", "retired")

    def __init__(self, fd: int, writable: bool) -> None:
        self.fd = fd
        self.writable = writable
        self.users = 0
        self.retired = False


def _close(handle: _Handle) -> None:
    """A writable file is synced before its descriptor goes: flush() syncs only the open ones,
    and resume data may already claim what was written through this one."""
    try:
        if handle.writable:
            os.fsync(handle.fd)
    except OSError as exc:
        log.warning("could not sync a file before closing it: %s", exc.strerror or exc)
    finally:
        os.close(handle.fd)


class OpenFiles:
    """The open descriptors of every torrent's files, least recently used closed first.

    One per session (issue 19: 10,000 torrents must not hold a descriptor cache each):
    keyed by (storage, file index). A descriptor that a thread is using is closed only when
    that thread releases it, so a job never does I/O on a closed (or reused) descriptor number.
    """

    def __init__(self, capacity: int = OPEN_FILES) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._handles: OrderedDict[tuple[object, int], _Handle] = OrderedDict()

    def __len__(self) -> int:
        return len(self._handles)

    def resize(self, capacity: int) -> None:
        """A new cap; descriptors past it that no thread is using are closed at once."""
        with self._lock:
            self._capacity = capacity
            self._evict()

    def of(self, owner: object) -> _OwnedFiles:
        """The descriptors of one owner's files (a Storage's), as file index -> descriptor."""
        return _OwnedFiles(self, owner)

    @contextmanager
    def use(self, key: tuple[object, int], writable: bool, opener: Callable[[int, bool], int]) -> Iterator[int]:
        handle = self._acquire(key, writable, opener)
        try:
            yield handle.fd
        finally:
            self._release(handle)

    def sync_all(self, owner: object) -> None:
        """fsync every open writable file of `owner`, so what was written survives a power cut."""
        with self._lock:
            fds = [h.fd for (o, _), h in self._handles.items() if o is owner and h.writable and not h.retired]
            for fd in fds:
                os.fsync(fd)

    def close_all(self, owner: object) -> None:
        with self._lock:
            for key in [key for key in self._handles if key[0] is owner]:
                self._retire(key)

    def forget(self, key: tuple[object, int]) -> None:
        """Close one file's descriptor (before it is deleted or cut short)."""
        with self._lock:
            if key in self._handles:
                self._retire(key)

    def _acquire(self, key: tuple[object, int], writable: bool, opener: Callable[[int, bool], int]) -> _Handle:
        with self._lock:
            handle = self._handles.get(key)
            if handle is not None and (handle.writable or not writable):
                self._handles.move_to_end(key)
            else:
                if handle is not None:
                    self._retire(key)  # read-only, and a write needs it writable
                handle = _Handle(opener(key[1], writable), writable)
                self._handles[key] = handle
            handle.users += 1
            self._evict()
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            if handle.retired and not handle.users:
                _close(handle)

    def _evict(self) -> None:
        excess = len(self._handles) - self._capacity
        if excess <= 0:
            return
        idle = [key for key, handle in self._handles.items() if not handle.users]
        for key in idle[:excess]:
            self._retire(key)

    def _retire(self, key: tuple[object, int]) -> None:
        handle = self._handles.pop(key)
        handle.retired = True
        if not handle.users:
            _close(handle)


class _OwnedFiles:
    """One storage's view of the shared OpenFiles: its own files, by index.

    `unsynced` says whether a write finished since the last sync_all(): a flush with nothing
    to sync costs no executor job (9,000 idle seeds at each resume save). `writes` counts
    the uses for writing: resume data re-stamps only files that may have changed.
    """

    __slots__ = ("_files", "_owner", "unsynced", "writes")

    def __init__(self, files: OpenFiles, owner: object) -> None:
        self._files, self._owner = files, owner
        self.unsynced = False
        self.writes = 0

    @contextmanager
    def use(self, index: int, writable: bool, opener: Callable[[int, bool], int]) -> Iterator[int]:
        with self._files.use((self._owner, index), writable, opener) as fd:
            yield fd
        if writable:
            self.unsynced = True  # after the write: a sync_all() that cleared it before syncs it
            self.writes += 1

    def sync_all(self) -> None:
        self.unsynced = False  # before the fsyncs: a write finishing meanwhile sets it again
        self._files.sync_all(self._owner)

    def close_all(self) -> None:
        self._files.close_all(self._owner)

    def forget(self, index: int) -> None:
        self._files.forget((self._owner, index))


class Storage:
    """The files of one torrent under `save_dir`; call `open()` before any I/O."""

    def __init__(
        self,
        metainfo: StorageInfo,
        save_dir: Path,
        executor: concurrent.futures.Executor,
        *,
        check_jobs: int = 2,
        verifier: PieceVerifier | None = None,
        open_files: OpenFiles | None = None,
    ) -> None:
        """`verifier` None checks pieces against `metainfo.piece_hashes` (SHA-1, BEP 3);
        `open_files` None: this storage keeps its own descriptors (a session shares one)."""
        files = list(metainfo.files)
        self._layout = Layout(metainfo.piece_length, [f.length for f in files])
        if self._layout.total_length != metainfo.total_length:
            raise ValueError("total_length is not the sum of the file lengths")
        if verifier is None and len(metainfo.piece_hashes) != _HASH_LENGTH * self._layout.num_pieces:
            raise ValueError("piece_hashes does not hold one SHA-1 digest per piece")
        self._verifier = verifier or Sha1Pieces(metainfo.piece_hashes)
        self._relative = [f.path for f in files]
        self._names = ["/".join(f.path) for f in files]
        self._padding = [f.padding for f in files]
        self._save_dir = Path(save_dir)
        self._executor = executor
        self._check_jobs = max(1, check_jobs)
        self._fds = (open_files if open_files is not None else OpenFiles()).of(self)
        self._paths: list[str] | None = None
        self._skipped: frozenset[int] = frozenset()
        # set_skipped() jobs that make 0-byte files or move bytes out of the part file; close() waits for them.
        self._creating: set[concurrent.futures.Future[None]] = set()
        self._parts = PartMap(self._layout, self._padding)
        info_hash = getattr(metainfo, "info_hash", None) or hashlib.sha1(metainfo.piece_hashes).digest()
        self.part_name = part_file_name(info_hash)
        self._part = len(files)  # the part file's number in the descriptor cache
        # Held while a shared piece's bytes are placed and moved: a write never lands in a
        # part file slot that is being moved out.
        self._part_lock = threading.RLock()
        self._in_part: set[int] = set()  # skipped files whose shared bytes are in the part file
        self._decided: set[int] = set()  # files whose bytes' place (part file or own file) is settled

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def save_dir(self) -> Path:
        return self._save_dir

    async def open(self) -> None:
        """Make save_dir and the wanted 0-byte files; refuse any path that leads outside save_dir.

        Other files, and their folders, are made by the first write that touches them.
        """
        self._paths = await self._run(self._prepare)

    def set_skipped(self, files: Iterable[int]) -> None:
        """The indexes of the files the user skipped; open() does not make their 0-byte files.

        Un-skipping a 0-byte file after open() makes it in the executor, without waiting.
        """
        skipped = frozenset(files)
        if not all(0 <= index < len(self._names) for index in skipped):
            raise ValueError(f"a file index is 0 to {len(self._names) - 1}")
        unskipped = self._skipped - skipped
        self._skipped = skipped
        to_make = self._wanted_empty(unskipped)
        if self._paths is not None and to_make:
            self._submit(self._create_empty_files, self._paths, to_make)
        if self._paths is not None and unskipped:
            self._submit(self._move_out_of_part, unskipped)

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        job = self._executor.submit(fn, *args)
        self._creating.add(job)
        job.add_done_callback(self._created)

    async def write_piece(self, piece: int, data: bytes | bytearray | memoryview) -> None:
        view = self._piece_view(piece, data)
        await self._run(self._write, piece, view)

    async def verify_and_write(self, piece: int, data: bytes | bytearray | memoryview) -> bool:
        """Write the piece only if its hash matches; hash and write are one executor job."""
        view = self._piece_view(piece, data)
        return await self._run(self._verify_and_write, piece, view)

    def read(self, piece: int, offset: int, length: int) -> asyncio.Future[bytes]:
        """The job is submitted now, not when first awaited: a read-ahead starts at once."""
        size = self._layout.piece_size(piece)
        if offset < 0 or length < 0 or offset + length > size:
            raise ValueError(
                f"bytes {offset}..{offset + length} are outside piece {piece} of {size} bytes"
            )
        start = piece * self._layout.piece_length + offset
        return self._run(self._read, start, length)

    async def check(
        self,
        progress: Callable[[int, int], None] | None = None,
        pieces: Iterable[int] | None = None,
    ) -> Bitfield:
        """Hash the data already on disk; returns the pieces that match their hash.

        Pieces of missing or short files are skipped without reading. At most
        `check_jobs` jobs run at once, each reading at most _CHUNK bytes at a time.
        """
        todo: Sequence[int] = range(self._layout.num_pieces) if pieces is None else list(pieces)
        sizes = await self._run(self._file_sizes)
        step = max(1, _BATCH_BYTES // self._layout.piece_length)
        batches = (todo[i : i + step] for i in range(0, len(todo), step))
        verified = Bitfield(self._layout.num_pieces)
        done = 0
        pending: set[asyncio.Future[tuple[int, list[int]]]] = set()
        try:
            while True:
                while len(pending) < self._check_jobs and (batch := next(batches, None)):
                    pending.add(self._run(self._check_batch, batch, sizes))
                if not pending:
                    return verified
                finished, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED
                )
                for future in finished:
                    count, good = future.result()
                    verified.update(good)
                    done += count
                if progress is not None:
                    progress(done, len(todo))
        finally:
            for future in pending:
                future.cancel()

    @property
    def writes(self) -> int:
        """Grows with every write, file made or bytes moved: the files may have changed."""
        return self._fds.writes

    async def flush(self) -> None:
        """Make every completed write durable (before resume data claims it)."""
        if not self._fds.unsynced:
            return
        with _os_errors("flushing", str(self._save_dir)):
            await self._run(self._fds.sync_all)

    async def close(self) -> None:
        """Close every cached descriptor; safe to call more than once."""
        # A failed job was logged already; it must not stop the files from closing.
        await asyncio.gather(*map(asyncio.wrap_future, list(self._creating)), return_exceptions=True)
        await self._run(self._close_all)

    async def delete_files(self) -> None:
        """Remove the torrent's files, then the folders under save_dir they leave empty."""
        await self.close()
        await self._run(self._delete)

    # -- executor side ------------------------------------------------------------

    def _run(self, fn: Callable[..., _T], *args: object) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _require_paths(self) -> list[str]:
        if self._paths is None:
            raise RuntimeError("Storage.open() must be awaited before any I/O")
        return self._paths

    def _piece_view(self, piece: int, data: bytes | bytearray | memoryview) -> memoryview:
        view = memoryview(data).cast("B")
        size = self._layout.piece_size(piece)
        if len(view) != size:
            raise ValueError(f"piece {piece} is {size} bytes, not {len(view)}")
        return view

    def _wanted_empty(self, files: Iterable[int]) -> list[int]:
        """The 0-byte files among `files` that must exist: not skipped, not BEP 47 padding."""
        lengths = self._layout.file_lengths
        return sorted(
            i for i in files if not lengths[i] and not self._padding[i] and i not in self._skipped
        )

    def _created(self, job: concurrent.futures.Future[None]) -> None:
        self._creating.discard(job)
        if not job.cancelled() and (exc := job.exception()) is not None:
            log.warning("could not create a file of %s: %s", self._save_dir, exc)

    def _part_path(self) -> str:
        return os.path.join(os.path.realpath(self._save_dir), self.part_name)

    def _name(self, index: int) -> str:
        return self.part_name if index == self._part else self._names[index]

    @contextmanager
    def _placed(self, span: Span) -> Iterator[tuple[int, int]]:
        """(file number, offset) of the span's bytes: its own file, or the part file for a
        skipped file's share of a shared piece; the part lock is held meanwhile for those."""
        if self._padding[span.file_index] or self._parts.offset(self._absolute(span)) is None:
            yield span.file_index, span.file_offset
            return
        with self._part_lock:
            if self._uses_part(span.file_index):
                yield self._part, self._parts.offset(self._absolute(span))  # type: ignore[misc]
            else:
                yield span.file_index, span.file_offset

    def _absolute(self, span: Span) -> int:
        return self._layout.file_offsets[span.file_index] + span.file_offset

    def _uses_part(self, index: int) -> bool:
        """Settled at the first touch of a skipped file: a file already on disk (skipped after
        it was written) keeps its bytes, as libtorrent does; a file not there uses the part file."""
        if index not in self._decided and index in self._skipped:
            self._decided.add(index)
            if not os.path.lexists(self._require_paths()[index]):
                self._in_part.add(index)
        return index in self._in_part

    def _move_out_of_part(self, files: Iterable[int]) -> None:
        """Files the user wants again: their bytes move from the part file into them."""
        with self._part_lock:
            for index in sorted(files):
                if index in self._skipped:
                    continue  # skipped again before this job ran
                if self._was_in_part(index):
                    self._copy_out(index)
                self._in_part.discard(index)
                self._decided.discard(index)
            self._shrink_part()

    def _was_in_part(self, index: int) -> bool:
        """A file skipped until now whose place was never settled here (this storage was made
        after the skip: a restart, a move) is in the part file if it is not on disk."""
        if index in self._decided:
            return index in self._in_part
        return not os.path.lexists(self._require_paths()[index])

    def _copy_out(self, index: int) -> None:
        size = self._part_size()
        for piece in self._parts.shared_pieces(index):
            for span in self._layout.piece_spans(piece):
                at = self._parts.offset(self._absolute(span))
                if span.file_index != index or at is None or size < at + span.length:
                    continue  # another file's bytes, or a slot never written
                data = self._read_file(self._part, at, span.length, "reading")
                with _os_errors("writing", self._names[index]), self._fds.use(index, True, self._open_fd) as fd:
                    _pwrite_all(fd, memoryview(data or b""), span.file_offset)

    def _shrink_part(self) -> None:
        """Cut the part file to the slots still in use; delete it when none is."""
        size = self._part_size()
        holders = [i for i in self._skipped | self._in_part if self._was_in_part(i)]
        needed = self._parts.end_of([p for i in holders for p in self._parts.shared_pieces(i)])
        if size < 0 or size <= needed:
            return
        self._fds.forget(self._part)
        with _os_errors("shrinking", self.part_name):
            if needed:
                os.truncate(self._part_path(), needed)
            else:
                os.unlink(self._part_path())

    def _part_size(self) -> int:
        try:
            return os.stat(self._part_path()).st_size
        except FileNotFoundError:
            return -1

    def _prepare(self) -> list[str]:
        with _os_errors("creating folder", str(self._save_dir)):
            os.makedirs(self._save_dir, exist_ok=True)
        paths = self._resolve_all()
        self._create_empty_files(paths, self._wanted_empty(range(len(paths))))
        return paths

    def _create_empty_files(self, paths: list[str], files: list[int]) -> None:
        for index in files:
            with _os_errors("creating", self._names[index]):
                os.close(self._open_creating(index, paths[index]))

    def _resolve_all(self) -> list[str]:
        root = Path(os.path.realpath(self._save_dir))
        return [self._resolve(root, index) for index in range(len(self._names))]

    def _resolve(self, root: Path, index: int) -> str:
        """The real path of a file, after following any symlink already on disk."""
        path = Path(os.path.realpath(root.joinpath(*self._relative[index])))
        if path == root or not path.is_relative_to(root):
            raise StorageError(
                f"'{self._names[index]}' would be outside the download folder '{root}'; "
                "a symbolic link or an unsafe name leads there"
            )
        return str(path)

    def _refuse_symlinks(self, index: int, path: str) -> None:
        """The path was resolved in open(); a folder on the way may have been swapped for a
        symlink since. A part not yet made resolves to itself, so it passes."""
        if os.path.realpath(path) != path:
            raise StorageError(
                f"'{self._name(index)}' now leads through a symbolic link; refusing to use it"
            )

    def _open_creating(self, index: int, path: str) -> int:
        """Open for writing, making the file and, the first time, the folders it is in."""
        self._refuse_symlinks(index, path)
        # O_NOFOLLOW: the last component may turn into a symlink after the check.
        flags = os.O_RDWR | os.O_CREAT | _O_BINARY | _O_NOFOLLOW
        try:
            return os.open(path, flags, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._refuse_symlinks(index, path)  # again: makedirs may have raced with a swap
        return os.open(path, flags, 0o666)

    def _open_fd(self, index: int, writable: bool) -> int:
        path = self._part_path() if index == self._part else self._require_paths()[index]
        if not writable:
            self._refuse_symlinks(index, path)
            return os.open(path, os.O_RDONLY | _O_BINARY | _O_NOFOLLOW)
        fd = self._open_creating(index, path)
        if index == self._part:
            return fd  # grows slot by slot, sparse
        try:
            # Sized once, sparse: later writes never extend the file bit by bit.
            if os.fstat(fd).st_size < self._layout.file_lengths[index]:
                os.ftruncate(fd, self._layout.file_lengths[index])
        except OSError:
            os.close(fd)
            raise
        return fd

    def _write(self, piece: int, view: memoryview) -> None:
        position = 0
        for span in self._layout.piece_spans(piece):
            # BEP 47: padding files are never created; their bytes are known zeros.
            if not self._padding[span.file_index]:
                self._write_span(span, view[position : position + span.length])
            position += span.length

    def _write_span(self, span: Span, data: memoryview) -> None:
        with (
            self._placed(span) as (index, offset),
            _os_errors("writing", self._name(index)),
            self._fds.use(index, True, self._open_fd) as fd,
        ):
            _pwrite_all(fd, data, offset)

    def _verify_and_write(self, piece: int, view: memoryview) -> bool:
        hasher = self._verifier.hasher(piece)
        hasher.update(view)
        if hasher.digest() != self._verifier.expected(piece):
            return False
        self._write(piece, view)
        return True

    def _read(self, start: int, length: int) -> bytes:
        parts = [self._read_span(span) for span in self._layout.spans(start, length)]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_span(self, span: Span) -> bytes:
        if self._padding[span.file_index]:
            return bytes(span.length)
        with self._placed(span) as (index, offset):
            data = self._read_file(index, offset, span.length, "reading")
        if data is None:
            raise StorageError(f"'{self._name(index)}' is shorter than expected")
        return data

    def _read_file(self, index: int, offset: int, length: int, action: str) -> bytes | None:
        with (
            _os_errors(action, self._name(index)),
            self._fds.use(index, False, self._open_fd) as fd,
        ):
            return _pread_exact(fd, length, offset)

    def _file_sizes(self) -> list[int]:
        paths = self._require_paths()
        return [*(self._size_on_disk(index, path) for index, path in enumerate(paths)), self._part_size()]

    def _size_on_disk(self, index: int, path: str) -> int:
        """The file's size, or -1 if it is missing or not a regular file."""
        if self._padding[index]:
            return self._layout.file_lengths[index]
        with _os_errors("checking", self._names[index]):
            try:
                info = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                return -1
        return info.st_size if stat.S_ISREG(info.st_mode) else -1

    def _check_batch(self, pieces: Sequence[int], sizes: list[int]) -> tuple[int, list[int]]:
        good = [
            piece
            for piece in pieces
            if self._on_disk(piece, sizes) and self._matches_on_disk(piece)
        ]
        return len(pieces), good

    def _on_disk(self, piece: int, sizes: list[int]) -> bool:
        for span in self._layout.piece_spans(piece):
            with self._placed(span) as (index, offset):
                if sizes[index] < offset + span.length:
                    return False
        return True

    def _matches_on_disk(self, piece: int) -> bool:
        expected = self._verifier.expected(piece)
        return expected is not None and self._hash_piece(piece) == expected

    def _hash_piece(self, piece: int) -> bytes | None:
        """The hash of the piece as it is on disk, or None if a file ends too soon."""
        sha = self._verifier.hasher(piece)
        for span in self._layout.piece_spans(piece):
            with self._placed(span) as (index, start):
                end = start + span.length
                for offset in range(start, end, _CHUNK):
                    chunk = self._check_chunk(index, offset, min(_CHUNK, end - offset))
                    if chunk is None:
                        return None
                    sha.update(chunk)
        return sha.digest()

    def _check_chunk(self, index: int, offset: int, length: int) -> bytes | None:
        if index != self._part and self._padding[index]:
            return bytes(length)
        return self._read_file(index, offset, length, "checking")

    def _close_all(self) -> None:
        with _os_errors("closing the files in", str(self._save_dir)):
            self._fds.close_all()

    def _delete(self) -> None:
        paths = self._paths if self._paths is not None else self._resolve_all()
        for index, path in enumerate(paths):
            if not self._padding[index]:
                self._unlink(index, path)
        self._unlink(self._part, self._part_path())
        root = Path(os.path.realpath(self._save_dir))
        folders = {p for path in paths for p in Path(path).parents if p.is_relative_to(root)}
        for folder in sorted(folders - {root}, key=lambda p: len(p.parts), reverse=True):
            self._remove_if_empty(folder)

    def _unlink(self, index: int, path: str) -> None:
        with _os_errors("deleting", self._name(index)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _remove_if_empty(self, folder: Path) -> None:
        try:
            os.rmdir(folder)
        except OSError as exc:
            if exc.errno not in _HARMLESS_RMDIR_ERRNOS:
                raise _storage_error(exc, "deleting folder", str(folder)) from exc
