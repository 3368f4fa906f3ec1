import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.storage.layout import Layout, Span

# (piece_length, file_lengths, piece, expected spans as (file, offset, length))
PIECE_SPANS = [
    # 0-byte files first, in the middle and last never appear
    (4, [0, 5, 0, 3, 0], 0, [(1, 0, 4)]),
    (4, [0, 5, 0, 3, 0], 1, [(1, 4, 1), (3, 0, 3)]),
    # files smaller than a 16 KiB block, then a big file; the last piece is short
    (16384, [100, 200, 50000], 0, [(0, 0, 100), (1, 0, 200), (2, 0, 16084)]),
    (16384, [100, 200, 50000], 1, [(2, 16084, 16384)]),
    (16384, [100, 200, 50000], 3, [(2, 48852, 1148)]),
    # a file exactly one piece long
    (8, [8, 8, 3], 0, [(0, 0, 8)]),
    (8, [8, 8, 3], 1, [(1, 0, 8)]),
    (8, [8, 8, 3], 2, [(2, 0, 3)]),
    # one piece spanning many files
    (100, [1, 2, 3, 4, 0, 5], 0, [(0, 0, 1), (1, 0, 2), (2, 0, 3), (3, 0, 4), (5, 0, 5)]),
    # a single file, last piece short
    (10, [25], 2, [(0, 20, 5)]),
]


@pytest.mark.parametrize(("piece_length", "lengths", "piece", "expected"), PIECE_SPANS)
def test_piece_spans(
    piece_length: int, lengths: list[int], piece: int, expected: list[tuple[int, int, int]]
) -> None:
    layout = Layout(piece_length, lengths)
    assert layout.piece_spans(piece) == [Span(*s) for s in expected]


# (piece_length, file_lengths, total_length, num_pieces, piece sizes)
SIZES = [
    (4, [0, 5, 0, 3, 0], 8, 2, [4, 4]),
    (16384, [100, 200, 50000], 50300, 4, [16384, 16384, 16384, 1148]),
    (8, [8, 8, 3], 19, 3, [8, 8, 3]),
    (100, [1, 2, 3, 4, 0, 5], 15, 1, [15]),
    (8, [8, 8], 16, 2, [8, 8]),
]


@pytest.mark.parametrize(("piece_length", "lengths", "total", "count", "sizes"), SIZES)
def test_sizes(
    piece_length: int, lengths: list[int], total: int, count: int, sizes: list[int]
) -> None:
    layout = Layout(piece_length, lengths)
    assert (layout.total_length, layout.num_pieces) == (total, count)
    assert [layout.piece_size(p) for p in range(count)] == sizes


# (piece_length, file_lengths, expected file_pieces per file)
FILE_PIECES = [
    (4, [0, 5, 0, 3, 0], [range(0), range(0, 2), range(0), range(1, 2), range(0)]),
    (8, [8, 8, 3], [range(0, 1), range(1, 2), range(2, 3)]),
    (100, [1, 2, 3, 4, 0, 5], [range(0, 1)] * 4 + [range(0)] + [range(0, 1)]),
    (16384, [100, 200, 50000], [range(0, 1), range(0, 1), range(0, 4)]),
]


@pytest.mark.parametrize(("piece_length", "lengths", "expected"), FILE_PIECES)
def test_file_pieces(piece_length: int, lengths: list[int], expected: list[range]) -> None:
    layout = Layout(piece_length, lengths)
    assert [layout.file_pieces(i) for i in range(len(lengths))] == expected


# (piece_length, file_lengths, file, piece, bytes of the file in the piece)
FILE_BYTES = [
    (4, [0, 5, 0, 3, 0], 1, 0, 4),
    (4, [0, 5, 0, 3, 0], 1, 1, 1),
    (4, [0, 5, 0, 3, 0], 3, 0, 0),
    (4, [0, 5, 0, 3, 0], 3, 1, 3),
    (4, [0, 5, 0, 3, 0], 0, 0, 0),
    (4, [0, 5, 0, 3, 0], 4, 1, 0),
    (16384, [100, 200, 50000], 2, 3, 1148),
    (16384, [100, 200, 50000], 2, 0, 16084),
]


@pytest.mark.parametrize(("piece_length", "lengths", "file", "piece", "expected"), FILE_BYTES)
def test_file_bytes_in_piece(
    piece_length: int, lengths: list[int], file: int, piece: int, expected: int
) -> None:
    assert Layout(piece_length, lengths).file_bytes_in_piece(file, piece) == expected


def test_spans_of_an_arbitrary_range() -> None:
    layout = Layout(4, [0, 5, 0, 3, 0])
    assert layout.spans(3, 4) == [Span(1, 3, 2), Span(3, 0, 2)]
    assert layout.spans(5, 3) == [Span(3, 0, 3)]
    assert layout.spans(8, 0) == []


@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, 9), (8, 1), (2, -1)])
def test_spans_outside_the_torrent(offset: int, length: int) -> None:
    with pytest.raises(ValueError):
        Layout(4, [0, 5, 0, 3, 0]).spans(offset, length)


@pytest.mark.parametrize("piece", [-1, 2])
def test_piece_out_of_range(piece: int) -> None:
    layout = Layout(4, [5, 3])
    with pytest.raises(ValueError):
        layout.piece_spans(piece)
    with pytest.raises(ValueError):
        layout.file_bytes_in_piece(0, piece)


def test_bad_construction() -> None:
    with pytest.raises(ValueError):
        Layout(0, [1])
    with pytest.raises(ValueError):
        Layout(4, [1, -1])
    with pytest.raises(ValueError):
        Layout(4, [1]).file_pieces(1)


def test_all_zero_length_files() -> None:
    layout = Layout(4, [0, 0])
    assert (layout.total_length, layout.num_pieces) == (0, 0)
    assert layout.spans(0, 0) == []
    assert layout.file_pieces(1) == range(0)


@given(
    piece_length=st.integers(1, 40),
    lengths=st.lists(st.integers(0, 60), min_size=1, max_size=8),
)
def test_pieces_cover_every_file_exactly_once(piece_length: int, lengths: list[int]) -> None:
    layout = Layout(piece_length, lengths)
    covered: dict[int, list[tuple[int, int]]] = {i: [] for i in range(len(lengths))}
    for piece in range(layout.num_pieces):
        spans = layout.piece_spans(piece)
        assert sum(s.length for s in spans) == layout.piece_size(piece)
        for s in spans:
            assert s.length > 0
            covered[s.file_index].append((s.file_offset, s.length))
            assert piece in layout.file_pieces(s.file_index)
    for index, length in enumerate(lengths):
        offset = 0
        for file_offset, span_length in covered[index]:
            assert file_offset == offset
            offset += span_length
        assert offset == length
        in_pieces = [layout.file_bytes_in_piece(index, p) for p in range(layout.num_pieces)]
        assert sum(in_pieces) == length
        assert [p for p, n in enumerate(in_pieces) if n] == list(layout.file_pieces(index))
