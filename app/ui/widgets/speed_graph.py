"""Down and up rates over the last minutes, drawn with QPainter in the palette's colours."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui import formatting
from app.ui.speed_history import SpeedSample

DOWN_COLOUR = QColor("#3d8fd6")
UP_COLOUR = QColor("#3aa65b")
_MARGIN_LEFT = 76
_MARGIN = 10
_MARGIN_BOTTOM = 22


def nice_ceiling(value: float) -> float:
    """The scale's top: a power of two, at least 1 KiB/s, so quarter lines read as round rates."""
    return float(2 ** max(10, math.ceil(math.log2(max(value, 1.0)))))


class SpeedGraph(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._samples: list[SpeedSample] = []
        self._window = 300.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 120)

    def set_samples(self, samples: Sequence[SpeedSample], window: float) -> None:
        self._samples = list(samples)
        self._window = window
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 200)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        plot = QRectF(
            _MARGIN_LEFT,
            _MARGIN,
            self.width() - _MARGIN_LEFT - _MARGIN,
            self.height() - _MARGIN - _MARGIN_BOTTOM,
        )
        if plot.width() <= 0 or plot.height() <= 0:
            return
        top = nice_ceiling(max((max(s.down, s.up) for s in self._samples), default=0.0))
        self._draw_grid(painter, plot, top)
        if len(self._samples) >= 2:
            self._draw_line(painter, plot, top, [s.down for s in self._samples], DOWN_COLOUR)
            self._draw_line(painter, plot, top, [s.up for s in self._samples], UP_COLOUR)
        self._draw_legend(painter, plot)

    def _draw_grid(self, painter: QPainter, plot: QRectF, top: float) -> None:
        palette = self.palette()
        grid = QColor(palette.color(QPalette.ColorRole.Text))
        grid.setAlphaF(0.15)
        text = palette.color(QPalette.ColorRole.Text)
        for step in range(5):
            y = plot.bottom() - plot.height() * step / 4
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text)
            label = formatting.rate_or_zero(top * step / 4)
            painter.drawText(
                QRectF(0, y - 10, _MARGIN_LEFT - 6, 20),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        minutes = round(self._window / 60)
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), _MARGIN_BOTTOM - 2),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{minutes} minutes ago",
        )
        painter.drawText(
            QRectF(plot.left(), plot.bottom() + 2, plot.width(), _MARGIN_BOTTOM - 2),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "now",
        )

    def _draw_line(
        self, painter: QPainter, plot: QRectF, top: float, values: list[float], colour: QColor
    ) -> None:
        end = self._samples[-1].time
        points = [
            QPointF(
                plot.right() - plot.width() * min(1.0, (end - sample.time) / self._window),
                plot.bottom() - plot.height() * value / top,
            )
            for sample, value in zip(self._samples, values, strict=True)
        ]
        path = QPainterPath(QPointF(points[0].x(), plot.bottom()))
        for point in points:
            path.lineTo(point)
        path.lineTo(QPointF(points[-1].x(), plot.bottom()))
        fill = QColor(colour)
        fill.setAlphaF(0.18)
        painter.fillPath(path, fill)
        painter.setPen(QPen(colour, 1.6))
        painter.drawPolyline(points)

    def _draw_legend(self, painter: QPainter, plot: QRectF) -> None:
        last = self._samples[-1] if self._samples else SpeedSample(0.0, 0.0, 0.0)
        x = plot.left() + 8
        for colour, label in (
            (DOWN_COLOUR, f"Down {formatting.rate_or_zero(last.down)}"),
            (UP_COLOUR, f"Up {formatting.rate_or_zero(last.up)}"),
        ):
            painter.fillRect(QRectF(x, plot.top() + 6, 10, 10), colour)
            painter.setPen(self.palette().color(QPalette.ColorRole.Text))
            width = self.fontMetrics().horizontalAdvance(label)
            painter.drawText(
                QRectF(x + 14, plot.top() + 1, width + 4, 20), Qt.AlignmentFlag.AlignVCenter, label
            )
            x += 14 + width + 18
