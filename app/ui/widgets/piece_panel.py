"""The Pieces tab: the piece map with its legend, a summary line and the availability toggle."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.engine.snapshots import PieceState, TorrentDetails, TorrentSnapshot
from app.ui import formatting
from app.ui.widgets.piece_map import (
    COMMON_COLOUR,
    NO_PEER_COLOUR,
    RARE_COLOUR,
    STATE_COLOURS,
    STATE_NAMES,
    PieceMap,
    missing_colour,
)

_SWATCH = 12
_SPACING = 14


class PieceLegend(QWidget):
    """Coloured swatches naming what the map's colours mean, in either mode."""

    def __init__(self, piece_map: PieceMap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._map = piece_map

    def sizeHint(self) -> QSize:
        return QSize(self._width(), self.fontMetrics().height() + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        x = 0
        for colour, label in self._entries():
            x = self._draw_entry(painter, x, colour, label)

    def _entries(self) -> list[tuple[QColor | QLinearGradient, str]]:
        if self._map.show_availability:
            gradient = QLinearGradient(0, 0, 3 * _SWATCH, 0)
            gradient.setColorAt(0, RARE_COLOUR)
            gradient.setColorAt(1, COMMON_COLOUR)
            most = self._map.most_peers
            return [(NO_PEER_COLOUR, "no peer"), (gradient, f"1 to {most} peers")]
        colours = {PieceState.MISSING: missing_colour(self.palette()), **STATE_COLOURS}
        return [(colours[state], STATE_NAMES[state]) for state in PieceState]

    def _draw_entry(
        self, painter: QPainter, x: int, fill: QColor | QLinearGradient, label: str
    ) -> int:
        width = 3 * _SWATCH if isinstance(fill, QLinearGradient) else _SWATCH
        top = (self.height() - _SWATCH) // 2
        if isinstance(fill, QLinearGradient):
            fill.setStart(x, 0)
            fill.setFinalStop(x + width, 0)
        painter.fillRect(QRect(x, top, width, _SWATCH), fill)
        x += width + 4
        text_width = self.fontMetrics().horizontalAdvance(label)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            QRect(x, 0, text_width, self.height()), Qt.AlignmentFlag.AlignVCenter, label
        )
        return x + text_width + _SPACING

    def _width(self) -> int:
        metrics = self.fontMetrics()
        return sum(
            (3 * _SWATCH if isinstance(fill, QLinearGradient) else _SWATCH)
            + 4
            + metrics.horizontalAdvance(label)
            + _SPACING
            for fill, label in self._entries()
        )


class PiecePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.piece_map = PieceMap()
        self.legend = PieceLegend(self.piece_map)
        self.summary = QLabel()
        self.availability_toggle = QCheckBox("Show availability")
        self.availability_toggle.setToolTip("Colour each piece by how many connected peers have it")
        self.availability_toggle.toggled.connect(self._toggle_availability)
        top = QHBoxLayout()
        top.addWidget(self.summary)
        top.addStretch()
        top.addWidget(self.availability_toggle)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.piece_map, 1)
        layout.addWidget(self.legend)

    def show_torrent(self, torrent: TorrentSnapshot | None, details: TorrentDetails | None) -> None:
        if torrent is None or details is None:
            self.piece_map.clear()
            self.summary.clear()
            return
        pieces = details.pieces
        verified = pieces.count(PieceState.VERIFIED)
        self.summary.setText(
            f"{formatting.count(verified)} of "
            f"{formatting.pieces_text(len(pieces), torrent.piece_length)} pieces verified"
        )
        self.piece_map.set_pieces(
            pieces, details.availability, torrent.piece_length, torrent.total_size
        )
        self.legend.update()

    def _toggle_availability(self, show: bool) -> None:
        self.piece_map.set_show_availability(show)
        self.legend.updateGeometry()
        self.legend.update()
