"""Byte ranges of a file -> pieces, the window to hurry, and Range headers (pure)."""

from __future__ import annotations

import pytest

from app.engine.bitfield import Bitfield
from app.engine.piece_picker import PiecePicker
from app.engine.storage.layout import Layout
from app.engine.streaming import (
    WINDOW_BYTES,
    ByteRange,
    RangeNotSatisfiable,
    critical_window,
    parse_range,
    piece_range,
    piece_slice,
)

# Three files end to end over 100-byte pieces: a 150, b 420 (bytes 150..570), c 30.
LAYOUT = Layout(100, [150, 420, 30])


@pytest.mark.parametrize(
    ("start", "end", "pieces"),
    [(0, 420, range(1, 6)), (0, 1, range(1, 2)), (49, 51, range(1, 3)), (419, 420, range(5, 6)), (10, 10, range(0))],
)
def test_file_bytes_map_to_the_pieces_that_hold_them(start: int, end: int, pieces: range) -> None:
    assert piece_range(LAYOUT, 1, start, end) == pieces


def test_a_piece_slice_is_the_part_inside_the_requested_bytes() -> None:
    assert piece_slice(LAYOUT, 1, 1, 0, 420) == (50, 50)  # file b starts half-way into piece 1
    assert piece_slice(LAYOUT, 1, 2, 0, 420) == (0, 100)
    assert piece_slice(LAYOUT, 1, 5, 0, 420) == (0, 70)  # then file c begins
    assert piece_slice(LAYOUT, 1, 3, 160, 170) == (10, 10)


def test_the_critical_window_runs_from_the_read_position_and_stops_at_the_range_end() -> None:
    big = Layout(1 << 20, [100 << 20])
    assert critical_window(big, 0, 50 << 20, 100 << 20) == range(50, 50 + WINDOW_BYTES // (1 << 20))
    assert critical_window(big, 0, 50 << 20, (51 << 20) - 1) == range(50, 51)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ByteRange(0, 600, False)),
        ("bytes=0-99", ByteRange(0, 100, True)),
        ("bytes=480-", ByteRange(480, 600, True)),
        ("bytes=-100", ByteRange(500, 600, True)),
        ("bytes=590-10000", ByteRange(590, 600, True)),  # RFC 9110: a last byte past the end is clipped
    ],
)
def test_range_headers(header: str | None, expected: ByteRange) -> None:
    assert parse_range(header, 600) == expected


@pytest.mark.parametrize("header", ["bytes=600-", "bytes=5-2", "bytes=0-1,5-6", "items=0-1", "bytes=x-", "bytes"])
def test_ranges_that_cannot_be_served(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 600)


def test_critical_pieces_are_picked_before_any_other() -> None:
    picker = PiecePicker(10, 16384, 10 * 16384)
    seed = Bitfield(10)
    for piece in range(10):
        seed.add(piece)
    picker.peer_joined(seed)
    picker.set_sequential(True)
    picker.set_critical([8, 6])
    assert [block.piece for block in picker.pick("peer", seed, 3)] == [8, 6, 0]


def test_critical_pieces_must_exist() -> None:
    with pytest.raises(ValueError, match="not one of the 10 pieces"):
        PiecePicker(10, 16384, 10 * 16384).set_critical([10])


def test_the_most_urgent_piece_is_asked_of_a_second_peer_too() -> None:
    picker = PiecePicker(10, 4 * 16384, 10 * 4 * 16384)
    seed = Bitfield(10)
    for piece in range(10):
        seed.add(piece)
    picker.peer_joined(seed)
    picker.peer_joined(seed)
    picker.set_critical([5, 7])
    slow = picker.pick("slow", seed, 4)
    assert {block.piece for block in slow} == {5}
    fast = picker.pick("fast", seed, 6)
    assert [block.piece for block in fast[:4]] == [7] * 4  # the pool first
    assert fast[4:] == slow[:2]  # then blocks of piece 5 the slow peer has not sent yet
    received, others, _ = picker.block_received("fast", slow[0])
    assert received and others == ["slow"]
