"""Making a .torrent from a file or a folder: list the files, hash the pieces.

Three formats: v1 (BEP 3, SHA-1 pieces), v2 (BEP 52, a SHA-256 merkle tree per file)
and hybrid (both, with BEP 47 pad files so that every file starts a piece, as BEP 52's
upgrade path asks). Files are listed in path order, which is also the v2 file tree's
order (depth first, keys sorted as bytes), so one pass hashes both formats.

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
from app.engine.merkle import root_from_layer
from app.engine.metainfo import (
    MAX_PIECE_LENGTH,
    FileEntry,
    is_tracker_url,
    is_web_seed_url,
    parse_metainfo,
)
from app.engine.storage.piece_verifier import MerklePieces, PieceHasher

MIN_PIECE_LENGTH = 16 * 1024
MAX_CHOSEN_PIECE_LENGTH = 16 * 1024 * 1024
_TARGET_MAX_PIECES = 2000
_BATCH_BYTES = 8 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
FORMATS = ("v1", "v2", "hybrid")
# What libtorrent 2 and qBittorrent make unless told otherwise: v2 clients get per-file
# merkle hashes, v1-only clients (Transmission 4, older ones) still join the same swarm.
DEFAULT_FORMAT = "hybrid"

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
    padding: bool = False  # BEP 47: zeros that align the next file to a piece


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
    format: str = "v1",
) -> bytes:
    """The bytes of a .torrent for the file or folder at ``path``.

    ``trackers`` are BEP 12 tiers; ``creation_date`` None means now; ``format`` is one of
    FORMATS. Raises MetainfoError for bad options or content no torrent can describe,
    StorageError when reading fails, CreationCancelled when ``cancel`` is set.
    """
    if format not in FORMATS:
        raise MetainfoError(f"the torrent format must be v1, v2 or hybrid, not '{format}'")
    tiers = _checked_tiers(trackers)
    seeds = _checked_web_seeds(web_seeds)
    name, sources, multi_file = _collect(Path(path))
    if not sum(source.length for source in sources):
        raise MetainfoError(f"'{path}' contains no data to share")
    piece_length = _checked_piece_length(piece_length, sum(source.length for source in sources))
    if format != "v1":
        sources = _aligned(sources, piece_length, tail=multi_file or format == "v2")
    digests = _hash_pieces(
        sources,
        piece_length,
        _hashers(format, sources, piece_length),
        workers or min(4, os.cpu_count() or 1),
        progress,
        cancel or threading.Event(),
    )
    info, layers = _formatted_info(format, name, sources, multi_file, piece_length, digests)
    if private:
        info[b"private"] = 1  # BEP 27
    top = _top_level(info, tiers, seeds, comment, created_by, creation_date)
    if layers:
        top[b"piece layers"] = layers  # BEP 52
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
    hashers: Callable[[int], list[PieceHasher]],
    workers: int,
    progress: Progress | None,
    cancel: threading.Event,
) -> list[list[bytes]]:
    """The digests of every piece: batches hashed in parallel, at most 2 per worker in flight."""
    total = sum(source.length for source in sources)
    piece_count = -(-total // piece_length)
    per_batch = max(1, _BATCH_BYTES // piece_length)
    stop = threading.Event()  # ends the other batches early when one fails
    reader = _Reader(sources, total, cancel, stop)
    digests: list[list[bytes]] = []
    pending: deque[tuple[Future[list[list[bytes]]], int]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="create-torrent") as pool:
        try:
            for first in range(0, piece_count, per_batch):
                last = min(first + per_batch, piece_count)
                job = pool.submit(reader.hash_pieces, first, last, piece_length, hashers)
                pending.append((job, last))
                keep = 0 if last == piece_count else 2 * workers - 1
                while len(pending) > keep:
                    future, done_pieces = pending.popleft()
                    digests += future.result()
                    if progress is not None:
                        progress(min(done_pieces * piece_length, total), total)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
    return digests


def _hashers(format: str, sources: list[_Source], piece_length: int) -> Callable[[int], list[PieceHasher]]:
    """What each piece is hashed with: SHA-1 for v1, its merkle root for v2, both for hybrid."""
    files = [FileEntry((), s.length, s.offset, s.padding) for s in sources]
    merkle = MerklePieces(files, piece_length, {})

    def make(piece: int) -> list[PieceHasher]:
        chosen: list[PieceHasher] = [hashlib.sha1()] if format != "v2" else []
        return chosen + ([merkle.hasher(piece)] if format != "v1" else [])

    return make


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

    def hash_pieces(
        self, first: int, last: int, piece_length: int, hashers: Callable[[int], list[PieceHasher]]
    ) -> list[list[bytes]]:
        """The digests of pieces first..last-1 (the torrent's last piece may be short)."""
        start = first * piece_length
        end = min(last * piece_length, self.total)
        digests: list[list[bytes]] = []
        piece, left = first, piece_length
        current = hashers(piece)
        for chunk in self._chunks(start, end):
            while chunk:
                taken = chunk[:left]
                for hasher in current:
                    hasher.update(taken)
                chunk, left = chunk[len(taken) :], left - len(taken)
                if left == 0:
                    digests.append([hasher.digest() for hasher in current])
                    piece, left = piece + 1, piece_length
                    current = hashers(piece) if piece < last else []
        if left != piece_length:
            digests.append([hasher.digest() for hasher in current])
        return digests

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
        if source.padding:
            yield from _zeros(length, view)
            return
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


def _zeros(length: int, view: memoryview) -> Iterator[memoryview]:
    view[:] = bytes(len(view))
    for position in range(0, length, len(view)):
        yield view[: min(len(view), length - position)]


# --- alignment -----------------------------------------------------------------------


def _aligned(sources: list[_Source], piece_length: int, tail: bool) -> list[_Source]:
    """BEP 47 pad files after each non-empty file so the next starts a piece (BEP 52).

    Like libtorrent: the last file is padded too, except in a single-file torrent.
    """
    placed: list[_Source] = []
    offset = 0
    for number, source in enumerate(sources, start=1):
        placed.append(_Source(source.disk_path, source.parts, source.length, offset))
        offset += source.length
        gap = -offset % piece_length if source.length else 0
        if gap and (tail or number < len(sources)):
            placed.append(_Source("", (b".pad", str(gap).encode()), gap, offset, padding=True))
            offset += gap
    return placed


# --- the dictionaries ----------------------------------------------------------------


def _formatted_info(
    format: str,
    name: bytes,
    sources: list[_Source],
    multi_file: bool,
    piece_length: int,
    digests: list[list[bytes]],
) -> tuple[dict[bytes, Any], dict[bytes, bytes]]:
    """The info dictionary, and the BEP 52 piece layers (empty for v1)."""
    info: dict[bytes, Any] = {b"name": name, b"piece length": piece_length}
    if format != "v2":
        info[b"pieces"] = b"".join(piece[0] for piece in digests)
        info.update(_v1_files(sources, multi_file))
    if format == "v1":
        return info, {}
    roots, layers = _merkle(sources, piece_length, [piece[-1] for piece in digests])
    info[b"meta version"] = 2
    info[b"file tree"] = _file_tree(sources, roots, multi_file, name)
    return info, layers


def _v1_files(sources: list[_Source], multi_file: bool) -> dict[bytes, Any]:
    if not multi_file:
        return {b"length": sources[0].length}
    return {b"files": [_v1_entry(source) for source in sources]}


def _v1_entry(source: _Source) -> dict[bytes, Any]:
    entry: dict[bytes, Any] = {b"length": source.length, b"path": list(source.parts)}
    if source.padding:
        entry[b"attr"] = b"p"  # BEP 47
    return entry


def _merkle(
    sources: list[_Source], piece_length: int, piece_roots: list[bytes]
) -> tuple[list[bytes], dict[bytes, bytes]]:
    """Each file's pieces root, and the piece layers of the files longer than a piece."""
    roots: list[bytes] = []
    layers: dict[bytes, bytes] = {}
    for source in sources:
        if source.padding or not source.length:
            roots.append(b"")
            continue
        first = source.offset // piece_length
        layer = piece_roots[first : first - (-source.length // piece_length)]
        if len(layer) == 1:
            roots.append(layer[0])  # BEP 52: a file of one piece has no piece layer
            continue
        roots.append(root_from_layer(layer, piece_length))
        layers[roots[-1]] = b"".join(layer)
    return roots, layers


def _file_tree(
    sources: list[_Source], roots: list[bytes], multi_file: bool, name: bytes
) -> dict[bytes, Any]:
    """BEP 52: nested dictionaries of path components; a file is {"": {length, pieces root}}."""
    tree: dict[bytes, Any] = {}
    for source, root in zip(sources, roots, strict=True):
        if source.padding:
            continue
        node = tree
        for part in source.parts if multi_file else (name,):
            node = node.setdefault(part, {})
        node[b""] = {b"length": source.length, **({b"pieces root": root} if root else {})}
    return tree




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
