"""Pure piece<->file mapping.

BEP 3: the files of a torrent, laid end to end in metainfo order, form one byte
string that is cut into pieces of `piece length` bytes (the last one may be shorter).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, slots=True)
class Span:
    """`length` bytes starting at `file_offset` inside file number `file_index`."""

    file_index: int
    file_offset: int
    length: int


class Layout:
    """Where each piece's bytes live on disk; every out-of-range argument is a ValueError."""

    __slots__ = (
        "piece_length",
        "file_lengths",
        "file_offsets",
        "total_length",
        "num_pieces",
        "_starts",
        "_indices",
    )

    def __init__(self, piece_length: int, file_lengths: Sequence[int]) -> None:
        if piece_length <= 0:
            raise ValueError(f"piece length must be positive, not {piece_length}")
        if any(length < 0 for length in file_lengths):
            raise ValueError("file lengths must not be negative")
        self.piece_length = piece_length
        self.file_lengths = tuple(file_lengths)
        self.file_offsets = tuple(accumulate(self.file_lengths, initial=0))[:-1]
        self.total_length = sum(self.file_lengths)
        self.num_pieces = -(-self.total_length // piece_length)
        # Zero-length files hold no bytes, so only the others enter the search table;
        # their start offsets are then strictly increasing, as bisect needs.
        non_empty = [i for i, length in enumerate(self.file_lengths) if length]
        self._indices = non_empty
        self._starts = [self.file_offsets[i] for i in non_empty]

    def piece_size(self, piece: int) -> int:
        self._check_piece(piece)
        return min(self.piece_length, self.total_length - piece * self.piece_length)

    def spans(self, offset: int, length: int) -> list[Span]:
        """The file pieces of the torrent-absolute byte range [offset, offset + length)."""
        if offset < 0 or length < 0 or offset + length > self.total_length:
            raise ValueError(
                f"bytes {offset}..{offset + length} are outside the torrent's {self.total_length}"
            )
        end = offset + length
        k = bisect_right(self._starts, offset) - 1
        result: list[Span] = []
        while offset < end:
            index = self._indices[k]
            start = self._starts[k]
            taken = min(end, start + self.file_lengths[index]) - offset
            result.append(Span(index, offset - start, taken))
            offset += taken
            k += 1
        return result

    def piece_spans(self, piece: int) -> list[Span]:
        return self.spans(piece * self.piece_length, self.piece_size(piece))

    def file_pieces(self, file_index: int) -> range:
        """The pieces that hold at least one byte of the file (none for a 0-byte file)."""
        self._check_file(file_index)
        start = self.file_offsets[file_index]
        length = self.file_lengths[file_index]
        if not length:
            return range(0)
        return range(start // self.piece_length, (start + length - 1) // self.piece_length + 1)

    def file_bytes_in_piece(self, file_index: int, piece: int) -> int:
        """How many of the piece's bytes belong to the file (for per-file progress)."""
        self._check_file(file_index)
        piece_start = piece * self.piece_length
        piece_end = piece_start + self.piece_size(piece)
        file_start = self.file_offsets[file_index]
        file_end = file_start + self.file_lengths[file_index]
        return max(0, min(piece_end, file_end) - max(piece_start, file_start))

    def _check_piece(self, piece: int) -> None:
        if not 0 <= piece < self.num_pieces:
            raise ValueError(f"piece {piece} does not exist; the torrent has {self.num_pieces}")

    def _check_file(self, file_index: int) -> None:
        if not 0 <= file_index < len(self.file_lengths):
            raise ValueError(
                f"file {file_index} does not exist; the torrent has {len(self.file_lengths)}"
            )
