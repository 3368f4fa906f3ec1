"""Which pieces a media player reading a file needs, and which to hurry (pure).

A player reads a file of the torrent through HTTP Range requests (RFC 9110 §14); the
bytes it asks for map to pieces through the layout (BEP 3: files end to end, cut into
pieces). The pieces just after the read position are made time-critical, as libtorrent's
piece deadlines, so a seek moves the download to where the player is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.engine.storage.layout import Layout

WINDOW_BYTES: Final = 8 * 1024 * 1024  # how far past the read position is hurried


class RangeNotSatisfiable(ValueError):
    """The Range header asks for bytes outside the file (HTTP 416)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes [start, end) of a file, and whether the player asked for a part (206) or all (200)."""

    start: int
    end: int
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start


def parse_range(header: str | None, size: int) -> ByteRange:
    """One range of `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2); none: the whole file."""
    if not header:
        return ByteRange(0, size, False)
    unit, _, spec = header.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec:
        raise RangeNotSatisfiable(f"cannot serve the range {header!r}: one bytes range only")
    try:
        start, end = _bounds(first.strip(), last.strip(), size)
    except ValueError:
        raise RangeNotSatisfiable(f"cannot read the range {header!r}") from None
    if not 0 <= start < end <= size:
        raise RangeNotSatisfiable(f"the range {header!r} is outside the file's {size} bytes")
    return ByteRange(start, end, True)


def _bounds(first: str, last: str, size: int) -> tuple[int, int]:
    if not first:
        return max(size - int(last), 0), size  # a suffix: the last n bytes
    start = int(first)
    return start, size if not last else min(int(last) + 1, size)


def piece_range(layout: Layout, file_index: int, start: int, end: int) -> range:
    """The pieces holding bytes [start, end) of the file (empty for an empty range)."""
    if end <= start:
        return range(0)
    base = layout.file_offsets[file_index]
    length = layout.piece_length
    return range((base + start) // length, (base + end - 1) // length + 1)


def critical_window(layout: Layout, file_index: int, position: int, end: int) -> range:
    """The pieces to hurry for a player at `position` that wants the file up to `end`."""
    return piece_range(layout, file_index, position, min(end, position + WINDOW_BYTES))


def piece_slice(layout: Layout, file_index: int, piece: int, start: int, end: int) -> tuple[int, int]:
    """The part of `piece` (offset, length) that holds bytes of [start, end) of the file."""
    base = layout.file_offsets[file_index]
    piece_start = piece * layout.piece_length
    first = max(base + start, piece_start)
    last = min(base + end, piece_start + layout.piece_size(piece))
    return first - piece_start, last - first
