"""File priorities to piece priorities, and the pieces a sequential download starts with."""

from __future__ import annotations

import pytest

from app.engine.storage.layout import Layout
from app.engine.store import TorrentRecord
from app.engine.torrent_options import (
    TorrentOptions,
    check_file_priorities,
    first_last_pieces,
    piece_priorities,
)

# Pieces of 10 bytes. Files: a = bytes 0..24 (pieces 0-2), b = 25..34 (pieces 2-3),
# empty (none), c = 35..59 (pieces 3-5).
LAYOUT = Layout(10, [25, 10, 0, 25])
NO_PADDING = [False] * 4


@pytest.mark.parametrize(
    ("files", "pieces"),
    [
        ((1, 1, 1, 1), [1, 1, 1, 1, 1, 1]),
        ((0, 1, 1, 1), [0, 0, 1, 1, 1, 1]),  # piece 2 holds bytes of b too
        ((1, 0, 1, 0), [1, 1, 1, 0, 0, 0]),
        ((0, 2, 0, 0), [0, 0, 2, 2, 0, 0]),
        ((2, 0, 0, 1), [2, 2, 2, 1, 1, 1]),
        ((0, 0, 2, 0), [0, 0, 0, 0, 0, 0]),  # an empty file holds no piece
    ],
)
def test_a_piece_is_wanted_as_much_as_its_most_wanted_file(files: tuple[int, ...], pieces: list[int]) -> None:
    assert piece_priorities(LAYOUT, files, NO_PADDING) == pieces


def test_pad_files_do_not_make_a_piece_wanted() -> None:
    layout = Layout(10, [5, 5, 10])  # BEP 47: a pad file fills piece 0 after the first file
    assert piece_priorities(layout, (0, 1, 1), [False, True, False]) == [0, 1]
    assert piece_priorities(layout, (1, 1, 0), [False, True, False]) == [1, 0]


def test_first_and_last_piece_of_each_wanted_file() -> None:
    assert first_last_pieces(LAYOUT, (1, 1, 1, 1), NO_PADDING) == [0, 2, 3, 5]
    assert first_last_pieces(LAYOUT, (0, 1, 1, 0), NO_PADDING) == [2, 3]


def test_file_priorities_are_checked() -> None:
    assert check_file_priorities([0, 2, 1], 3) == (0, 2, 1)
    with pytest.raises(ValueError, match="3 files"):
        check_file_priorities([1, 1], 3)
    with pytest.raises(ValueError, match="skip"):
        check_file_priorities([1, 3, 1], 3)


def test_options_come_from_the_stored_record() -> None:
    record = TorrentRecord(b"\1" * 20, b"", "", "/x", False, 0.0, "n", (0, 2), True, 1000, 2000, 0)
    options = TorrentOptions.from_record(record)
    assert options == TorrentOptions((0, 2), True, 1000, 2000)
    assert options.file_priority(1) == 2
    assert TorrentOptions().file_priority(7) == 1
