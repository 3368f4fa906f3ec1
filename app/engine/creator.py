"""Making a .torrent (BEP 3) from a file or a folder: list the files, hash the pieces.

Blocking on purpose: the caller runs it in a thread. Pieces are hashed in batches on a
thread pool (hashlib releases the GIL on large buffers) with a bounded number of
batches in flight, each reading through one reusable 1 MiB buffer, so memory stays
small whatever the size of the data.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.bencode import encode
from app.engine.errors import EngineError, MetainfoError, StorageError
from app.engine.metainfo import (
    MAX_PIECE_LENGTH,
    is_tracker_url,
    is_web_seed_url,
    parse_metainfo,
)

MIN_PIECE_LENGTH = 16 * 1024
MAX_CHOSEN_PIECE_LENGTH = 16 * 1024 * 1024
_TARGET_MAX_PIECES = 2000
_BATCH_BYTES = 8 * 1024 * 1024
_READ_CHUNK = 1024 * 1024

Progress = Callable[[int, int], None]


class CreationCancelled(EngineError):
    """Torrent creation was stopped through its cancel event."""


@dataclass(frozen=True, slots=True)
class _Source:
    """One file to put in the torrent."""

    disk_path: str
    parts: tuple[bytes, ...]  # path inside the torrent, as the file system spells it
    length: int
    offset: int


def choose_piece_length(total_size: int) -> int:
    """A power of two from 16 KiB to 16 MiB giving at most ~2000 pieces (1000+ when large)."""
    piece_length = MIN_PIECE_LENGTH
    while piece_length < MAX_CHOSEN_PIECE_LENGTH and total_size > _TARGET_MAX_PIECES * piece_length:
        piece_length *= 2
    return piece_length


def create_torrent(
    path: Path,
    *,
    trackers: Sequence[Sequence[str]] = (),
    piece_length: int | None = None,
    private: bool = False,
    comment: str = "",
    web_seeds: Sequence[str] = (),
    created_by: str = "Piecemeal 0.1.0",
    creation_date: int | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    cancel: threading.Event | None = None,
) -> bytes:
    """The bytes of a .torrent for the file or folder at ``path``.

    ``trackers`` are BEP 12 tiers; ``creation_date`` None means now. Raises MetainfoError
    for bad options or content no torrent can describe, StorageError when reading fails,
    CreationCancelled when ``cancel`` is set.
    """
    tiers = _checked_tiers(trackers)
    seeds = _checked_web_seeds(web_seeds)
    name, sources, multi_file = _collect(Path(path))
    total = sum(source.length for source in sources)
    if total == 0:
        raise MetainfoError(f"'{path}' contains no data to share")
    piece_length = _checked_piece_length(piece_length, total)
    hashes = _hash_pieces(
        sources,
        piece_length,
        total,
        workers or min(4, os.cpu_count() or 1),
        progress,
        cancel or threading.Event(),
    )
    info = _info(name, sources, multi_file, piece_length, hashes, private)
    top = _top_level(info, tiers, seeds, comment, created_by, creation_date)
    data = encode(top)
    parse_metainfo(data)  # what we could not load ourselves we must not hand out
    return data


# --- options -------------------------------------------------------------------------


def _checked_tiers(trackers: Sequence[Sequence[str]]) -> list[list[str]]:
    tiers = [[url.strip() for url in tier if url.strip()] for tier in trackers]
    for url in (url for tier in tiers for url in tier):
        if not is_tracker_url(url):
            raise MetainfoError(f"'{url}' is not an http, https or udp tracker URL")
    return [tier for tier in tiers if tier]


def _checked_web_seeds(web_seeds: Sequence[str]) -> list[str]:
    seeds = [url.strip() for url in web_seeds if url.strip()]
    for url in seeds:
        if not is_web_seed_url(url):
            raise MetainfoError(f"'{url}' is not an http or https web seed URL")
    return seeds


def _checked_piece_length(piece_length: int | None, total: int) -> int:
    if piece_length is None:
        return choose_piece_length(total)
    power_of_two = piece_length > 0 and piece_length & (piece_length - 1) == 0
    if not power_of_two or not MIN_PIECE_LENGTH <= piece_length <= MAX_PIECE_LENGTH:
        raise MetainfoError("the piece size must be a power of two from 16 KiB to 128 MiB")
    return piece_length


# --- listing the files ---------------------------------------------------------------


def _collect(root: Path) -> tuple[bytes, list[_Source], bool]:
    """The torrent name, its files in path order, and whether it is a multi-file torrent."""
    absolute = os.path.abspath(root)
    name = os.fsencode(os.path.basename(absolute))
    try:
        mode = os.stat(absolute).st_mode
    except OSError as error:
        raise StorageError(f"cannot read '{root}': {_reason(error)}") from error
    if stat.S_ISREG(mode):
        return name, [_Source(absolute, (name,), os.path.getsize(absolute), 0)], False
    if not stat.S_ISDIR(mode):
        raise MetainfoError(f"'{root}' is neither a file nor a folder")
    return name, _folder_sources(absolute), True


def _folder_sources(root: str) -> list[_Source]:
    """Regular files under ``root``, hidden ones included; symlinks are not followed."""
    found: list[tuple[tuple[bytes, ...], str, int]] = []
    for folder, _, file_names in os.walk(root, onerror=_raise_storage_error):
        for file_name in file_names:
            disk_path = os.path.join(folder, file_name)
            info = _lstat(disk_path)
            if stat.S_ISREG(info.st_mode):
                parts = tuple(os.fsencode(p) for p in Path(os.path.relpath(disk_path, root)).parts)
                found.append((parts, disk_path, info.st_size))
    found.sort()
    sources: list[_Source] = []
    offset = 0
    for parts, disk_path, length in found:
        sources.append(_Source(disk_path, parts, length, offset))
        offset += length
    return sources


def _lstat(disk_path: str) -> os.stat_result:
    try:
        return os.lstat(disk_path)
    except OSError as error:
        raise StorageError(f"cannot read '{disk_path}': {_reason(error)}") from error


def _raise_storage_error(error: OSError) -> None:
    raise StorageError(f"cannot read '{error.filename}': {_reason(error)}") from error


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


# --- hashing -------------------------------------------------------------------------


def _hash_pieces(
    sources: list[_Source],
    piece_length: int,
    total: int,
    workers: int,
    progress: Progress | None,
    cancel: threading.Event,
) -> bytes:
    """SHA-1 of every piece: batches hashed in parallel, at most 2 per worker in flight."""
    piece_count = -(-total // piece_length)
    per_batch = max(1, _BATCH_BYTES // piece_length)
    stop = threading.Event()  # ends the other batches early when one fails
    reader = _Reader(sources, total, cancel, stop)
    digests: list[bytes] = []
    pending: deque[tuple[Future[bytes], int]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="create-torrent") as pool:
        try:
            for first in range(0, piece_count, per_batch):
                last = min(first + per_batch, piece_count)
                pending.append((pool.submit(reader.hash_pieces, first, last, piece_length), last))
                keep = 0 if last == piece_count else 2 * workers - 1
                while len(pending) > keep:
                    future, done_pieces = pending.popleft()
                    digests.append(future.result())
                    if progress is not None:
                        progress(min(done_pieces * piece_length, total), total)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
    return b"".join(digests)


def _check_cancel(cancel: threading.Event, stop: threading.Event) -> None:
    if cancel.is_set():
        raise CreationCancelled("torrent creation was cancelled")
    if stop.is_set():
        raise CreationCancelled("torrent creation stopped after an error")


class _Reader:
    """Reads byte ranges of the concatenated files; shared by the hashing threads."""

    def __init__(
        self, sources: list[_Source], total: int, cancel: threading.Event, stop: threading.Event
    ) -> None:
        self.sources = [source for source in sources if source.length]
        self.starts = [source.offset for source in self.sources]
        self.total = total
        self.cancel = cancel
        self.stop = stop

    def hash_pieces(self, first: int, last: int, piece_length: int) -> bytes:
        """The digests of pieces first..last-1 (the torrent's last piece may be short)."""
        start = first * piece_length
        end = min(last * piece_length, self.total)
        digests: list[bytes] = []
        hasher, left = hashlib.sha1(), piece_length
        for chunk in self._chunks(start, end):
            while chunk:
                taken = chunk[:left]
                hasher.update(taken)
                chunk, left = chunk[len(taken) :], left - len(taken)
                if left == 0:
                    digests.append(hasher.digest())
                    hasher, left = hashlib.sha1(), piece_length
        if left != piece_length:
            digests.append(hasher.digest())
        return b"".join(digests)

    def _chunks(self, start: int, end: int) -> Iterator[memoryview]:
        """The bytes of [start, end) in chunks that are only valid until the next one."""
        buffer = bytearray(_READ_CHUNK)
        index = bisect_right(self.starts, start) - 1
        while start < end:
            source = self.sources[index]
            stop = min(end, source.offset + source.length)
            yield from self._file_chunks(source, start - source.offset, stop - start, buffer)
            start, index = stop, index + 1

    def _file_chunks(
        self, source: _Source, position: int, length: int, buffer: bytearray
    ) -> Iterator[memoryview]:
        view = memoryview(buffer)
        try:
            with open(source.disk_path, "rb", buffering=0) as stream:
                stream.seek(position)
                while length > 0:
                    _check_cancel(self.cancel, self.stop)
                    count = stream.readinto(view[: min(length, len(view))])
                    if not count:
                        raise StorageError(f"'{source.disk_path}' shrank while it was being hashed")
                    length -= count
                    yield view[:count]
        except OSError as error:
            raise StorageError(f"cannot read '{source.disk_path}': {_reason(error)}") from error


# --- the dictionaries ----------------------------------------------------------------


def _info(
    name: bytes,
    sources: list[_Source],
    multi_file: bool,
    piece_length: int,
    hashes: bytes,
    private: bool,
) -> dict[bytes, Any]:
    info: dict[bytes, Any] = {b"name": name, b"piece length": piece_length, b"pieces": hashes}
    if multi_file:
        info[b"files"] = [{b"length": s.length, b"path": list(s.parts)} for s in sources]
    else:
        info[b"length"] = sources[0].length
    if private:
        info[b"private"] = 1  # BEP 27
    return info


def _top_level(
    info: dict[bytes, Any],
    tiers: list[list[str]],
    web_seeds: list[str],
    comment: str,
    created_by: str,
    creation_date: int | None,
) -> dict[bytes, Any]:
    top: dict[bytes, Any] = {
        b"info": info,
        b"created by": created_by,
        b"creation date": int(time.time()) if creation_date is None else creation_date,
    }
    if tiers:
        top[b"announce"] = tiers[0][0]
    if sum(len(tier) for tier in tiers) > 1:
        top[b"announce-list"] = tiers  # BEP 12
    if comment:
        top[b"comment"] = comment
    if web_seeds:
        top[b"url-list"] = web_seeds  # BEP 19
    return top
