"""A small coloured dot per torrent state (or reason it is stopped), drawn once and shared by every row."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from app.engine.snapshots import StopReason, TorrentState
from app.ui.state_filter import Look

_PAUSED = "#8a8f98"
# Mid-tone colours readable on both light and dark palettes.
STATE_COLOURS: dict[Look, str] = {
    TorrentState.CHECKING: "#d8a735",
    TorrentState.METADATA: "#8e7cc3",
    TorrentState.DOWNLOADING: "#3d8fd6",
    TorrentState.SEEDING: "#3aa65b",
    StopReason.USER: _PAUSED,
    StopReason.SEEDING_GOAL: _PAUSED,
    StopReason.NO_SPACE: _PAUSED,
    StopReason.CHOOSE_FILES: _PAUSED,
    StopReason.QUEUED: "#a0a4ab",
    StopReason.ERROR: "#d9534f",
}


@cache
def state_icon(state: Look) -> QIcon:
    icon = QIcon()
    for side in (16, 32):
        pixmap = QPixmap(side, side)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STATE_COLOURS[state]))
        margin = side * 0.25
        painter.drawEllipse(QRectF(margin, margin, side - 2 * margin, side - 2 * margin))
        painter.end()
        icon.addPixmap(pixmap)
    return icon
