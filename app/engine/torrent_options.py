"""A torrent's own options (file priorities, sequential order, rate limits) and how they apply.

File priorities become piece priorities here: a piece is wanted as much as the most wanted
file it holds bytes of, and skipped only if every file it touches is skipped. The bytes a
wanted piece holds of a skipped file go to the torrent's part file (storage/part_file.py),
so a skipped file is never created on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from app.engine.piece_picker import PRIORITIES
from app.engine.rate_limit import Limits
from app.engine.storage.layout import Layout
from app.engine.store import TorrentRecord

if TYPE_CHECKING:
    from app.engine.torrent import Torrent

SKIP: Final = 0
NORMAL: Final = 1
HIGH: Final = 2


@dataclass(frozen=True, slots=True)
class TorrentOptions:
    file_priorities: tuple[int, ...] = ()  # one per file: 0 skip, 1 normal, 2 high; () all normal
    sequential: bool = False  # pieces in order, first and last piece of each file first
    down_limit: int = 0  # bytes per second, 0: no limit of its own
    up_limit: int = 0
    ratio_limit: float | None = None  # stop seeding at this share ratio; None: the session's goal, 0: never
    seed_time_limit: float | None = None  # or after this many seconds of seeding; None / 0 likewise
    super_seeding: bool = False  # BEP 16: as the initial seed, show each peer one piece at a time

    def file_priority(self, index: int) -> int:
        return self.file_priorities[index] if self.file_priorities else NORMAL

    def skipped_files(self) -> list[int]:
        return [index for index, priority in enumerate(self.file_priorities) if priority == SKIP]

    @property
    def limits(self) -> Limits:
        return Limits(self.down_limit, self.up_limit)

    @classmethod
    def from_record(cls, record: TorrentRecord) -> TorrentOptions:
        return cls(
            record.file_priorities, record.sequential, record.down_limit, record.up_limit,
            record.ratio_limit, record.seed_time_limit, record.super_seeding,
        )


def check_file_priorities(priorities: Sequence[int], num_files: int) -> tuple[int, ...]:
    if len(priorities) != num_files:
        raise ValueError(f"{len(priorities)} priorities for {num_files} files")
    if not set(priorities) <= set(PRIORITIES):
        raise ValueError("a file priority is 0 (skip), 1 (normal) or 2 (high)")
    return tuple(priorities)


def piece_priorities(layout: Layout, file_priorities: Sequence[int], padding: Sequence[bool]) -> list[int]:
    """Per piece, the highest priority of the files it holds bytes of (BEP 47 pad files aside).

    A piece that holds no byte of a real file stays normal: nothing would ever ask for it.
    """
    result = [-1] * layout.num_pieces
    for index, priority in enumerate(file_priorities):
        if padding[index]:
            continue
        for piece in layout.file_pieces(index):
            if priority > result[piece]:
                result[piece] = priority
    return [NORMAL if priority < 0 else priority for priority in result]


def first_last_pieces(layout: Layout, file_priorities: Sequence[int], padding: Sequence[bool]) -> list[int]:
    """The first and last piece of every wanted file, in file order: where players look first."""
    pieces: dict[int, None] = {}
    for index, priority in enumerate(file_priorities):
        span = layout.file_pieces(index)
        if priority != SKIP and not padding[index] and span:
            pieces[span[0]] = None
            pieces[span[-1]] = None
    return list(pieces)


def apply_options(torrent: Torrent) -> None:
    """Hand the torrent's options to its throttle and, once the metadata is known, its picker."""
    options = torrent.options
    torrent.throttle.set_limits(options.limits)
    if not torrent.num_pieces or torrent.dormant:
        return  # a magnet without metadata: the files are not known yet; a dormant one: at wake()
    files = torrent.metainfo.files
    chosen = len(options.file_priorities) == len(files) and any(p != NORMAL for p in options.file_priorities)
    # The common case, every file normal, costs nothing per file: start-up restores 1,000 torrents.
    torrent.storage.set_skipped(options.skipped_files() if chosen else ())
    if not chosen and not options.sequential:
        torrent.picker.set_priorities(bytes([NORMAL]) * torrent.num_pieces)
        torrent.picker.set_sequential(False, [])
        return
    priorities = options.file_priorities if chosen else (NORMAL,) * len(files)
    padding = [entry.padding for entry in files]
    if chosen:
        torrent.picker.set_priorities(piece_priorities(torrent.layout, priorities, padding))
    else:
        torrent.picker.set_priorities(bytes([NORMAL]) * torrent.num_pieces)
    first = first_last_pieces(torrent.layout, priorities, padding) if options.sequential else []
    torrent.picker.set_sequential(options.sequential, first)
