import random

from PySide6.QtCore import QEvent, QObject, QPoint, QRect
from PySide6.QtGui import QColor, QImage

from app.engine.snapshots import PieceState
from app.ui.widgets.piece_map import (
    STATE_COLOURS,
    PieceMap,
    availability_colour,
    describe_pieces,
    largest,
    layout_cells,
    missing_colour,
    piece_size,
)

M, R, W, V, F = (bytes([s]) for s in PieceState)
KIB = 1024


def _pixel(image: QImage, map_: PieceMap, cell: int) -> QColor:
    centre = map_.cell_layout.rect(cell).center()
    return image.pixelColor(centre)


def _shown_map(qtbot, width: int = 240, height: int = 120) -> PieceMap:
    map_ = PieceMap()
    qtbot.addWidget(map_)
    map_.resize(width, height)
    map_.show()
    qtbot.waitExposed(map_)
    return map_


class PaintRecorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())
        return False


def test_small_torrents_get_big_cells_and_large_ones_fold_pieces():
    small = layout_cells(400, 200, 50)
    assert small.per_cell == 1 and small.cell == 16
    huge = layout_cells(800, 300, 200_000)
    assert huge.per_cell > 1
    assert huge.cells * huge.per_cell >= 200_000
    assert huge.rows * (huge.cell + 1) <= 300 + 1


def test_each_state_paints_its_colour(qtbot):
    map_ = _shown_map(qtbot)
    map_.set_pieces(M + R + W + V + F, bytes(5), 16 * KIB, 80 * KIB)
    image = map_.grab().toImage()
    expected = [missing_colour(map_.palette()), *STATE_COLOURS.values()]
    assert [_pixel(image, map_, cell).name() for cell in range(5)] == [c.name() for c in expected]


def test_availability_overlay_paints_peer_counts(qtbot):
    map_ = _shown_map(qtbot)
    map_.set_pieces(V * 3, bytes([0, 1, 4]), 16 * KIB, 48 * KIB)
    map_.set_show_availability(True)
    image = map_.grab().toImage()
    assert [_pixel(image, map_, cell).name() for cell in range(3)] == [
        availability_colour(0, 4).name(),
        availability_colour(1, 4).name(),
        availability_colour(4, 4).name(),
    ]
    assert availability_colour(4, 4).name() != availability_colour(1, 4).name()


def test_a_folded_cell_shows_a_failure_first_then_flight_then_completion(qtbot):
    map_ = _shown_map(qtbot, 120, 60)  # room for 20 x 10 cells of 5 px: 800 pieces fold 4 to one
    pieces = V * 4 + (M + F + V + V) + (R + V + V + V) + M * 788
    map_.set_pieces(pieces, bytes(800), KIB, 800 * KIB)
    assert map_.cell_layout.per_cell == 4
    image = map_.grab().toImage()
    colours = [_pixel(image, map_, cell).name() for cell in range(3)]
    assert colours == [
        STATE_COLOURS[PieceState.VERIFIED].name(),
        STATE_COLOURS[PieceState.FAILED].name(),
        STATE_COLOURS[PieceState.REQUESTED].name(),
    ]


def test_a_change_repaints_only_its_cell(qtbot):
    map_ = _shown_map(qtbot)
    pieces = bytearray(M * 40)
    map_.set_pieces(bytes(pieces), bytes(40), KIB, 40 * KIB)
    qtbot.wait(10)
    recorder = PaintRecorder()
    map_.installEventFilter(recorder)
    pieces[17] = PieceState.VERIFIED
    map_.set_pieces(bytes(pieces), bytes(40), KIB, 40 * KIB)
    qtbot.waitUntil(lambda: bool(recorder.rects))
    assert recorder.rects == [map_.cell_layout.rect(17)]


def test_two_hundred_thousand_pieces_update_only_the_changed_cells(qtbot, monkeypatch):
    map_ = _shown_map(qtbot, 900, 300)
    rng = random.Random(7)
    pieces = bytearray(rng.choice(b"\x00\x03") for _ in range(200_000))
    availability = bytes(200_000)
    map_.set_pieces(bytes(pieces), availability, 16 * KIB, 200_000 * 16 * KIB)
    changed = rng.sample(range(200_000), 40)
    for index in changed:
        pieces[index] = PieceState.REQUESTED
    coloured = []
    colour = map_._cell_colour
    monkeypatch.setattr(map_, "_cell_colour", lambda cell, missing: coloured.append(cell) or colour(cell, missing))
    map_.set_pieces(bytes(pieces), availability, 16 * KIB, 200_000 * 16 * KIB)
    # Bisecting finds the 40 changed cells among thousands; a full recompute would colour them all.
    assert sorted(coloured) == sorted({index // map_.cell_layout.per_cell for index in changed})


def test_hover_text_for_one_piece():
    text = describe_pieces(range(2, 3), M + R + V, bytes([0, 0, 3]), 16 * KIB, 40 * KIB)
    assert text == "Piece 2\nVerified\n8.0 KiB\n3 connected peers have it"


def test_hover_text_for_a_folded_cell():
    text = describe_pieces(range(0, 3), M + R + V, bytes([1, 2, 5]), 16 * KIB, 40 * KIB)
    assert text == (
        "Pieces 0–2\n1 missing, 1 in flight, 1 verified\n40.0 KiB\n1–5 connected peers have each"
    )


def test_the_last_piece_holds_the_rest():
    assert piece_size(0, 16 * KIB, 40 * KIB) == 16 * KIB
    assert piece_size(2, 16 * KIB, 40 * KIB) == 8 * KIB


def test_hover_point_outside_cells_is_none():
    layout = layout_cells(100, 50, 3)
    assert layout.cell_at(QPoint(5, 5)) == 0
    assert layout.cell_at(QPoint(99, 49)) is None


def test_largest_matches_max():
    rng = random.Random(3)
    for _ in range(20):
        data = bytes(rng.randrange(rng.choice([1, 9, 256])) for _ in range(rng.randrange(1, 500)))
        assert largest(data) == max(data)
    assert largest(b"") == 0
