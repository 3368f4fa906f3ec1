"""Draws a cell's PROGRESS_ROLE as the style's own progress bar, with the percentage on it.

The style draws the bar; the percentage is ours, drawn twice with a clip: in the highlighted
text colour over the filled part, in the text colour over the rest, as Fusion does. Styles
that draw the label in one colour (Windows) left it white over the light unfilled part:
"63.0%" lost its ".0%".

A full repaint of the list draws this in every visible row, so the label is laid out once per
text and font (QStaticText), and only the parts it actually crosses are drawn.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, Qt
from PySide6.QtGui import QFont, QPainter, QPalette, QRegion, QStaticText, QTransform
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from app.ui import formatting
from app.ui.models.roles import PROGRESS_ROLE

_STEPS = 1000
_RIM = ((-1, 0), (1, 0), (0, -1), (0, 1))


class ProgressDelegate(QStyledItemDelegate):
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        progress = index.data(PROGRESS_ROLE)
        if progress is None:
            super().paint(painter, option, index)
            return
        # The row's selection background first, so a selected row stays one band of colour.
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        bar = _bar(option, progress)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)
        contents = style.subElementRect(
            QStyle.SubElement.SE_ProgressBarContents, bar, option.widget
        )
        painter.save()
        painter.setFont(option.font)
        _draw_percentage(painter, bar, _filled_part(contents, progress, bar.direction))
        painter.restore()


def _bar(option: QStyleOptionViewItem, progress: float) -> QStyleOptionProgressBar:
    """The style's progress bar in the cell, without its label: we draw that."""
    bar = QStyleOptionProgressBar()
    bar.rect = option.rect.adjusted(2, 3, -2, -3)
    bar.state = option.state | QStyle.StateFlag.State_Horizontal
    bar.direction = option.direction
    bar.fontMetrics = option.fontMetrics
    bar.palette = option.palette
    bar.minimum, bar.maximum = 0, _STEPS
    bar.progress = int(progress * _STEPS)
    bar.text = formatting.percent(progress)
    bar.textVisible = False
    return bar


def _draw_percentage(painter: QPainter, bar: QStyleOptionProgressBar, filled: QRect) -> None:
    label = _label(bar.text, painter.font())
    size = label.size().toSize()
    at = bar.rect.center() - QPoint(size.width() // 2, size.height() // 2)
    text = QRect(at, size)
    if filled.intersects(text):
        painter.setClipRect(filled)
        # A rim in the bar's colour: invisible on a solid chunk, it keeps the light text
        # readable across the gaps of a style that draws the chunk as blocks (Windows).
        painter.setPen(bar.palette.color(QPalette.ColorRole.Highlight))
        for dx, dy in _RIM:
            painter.drawStaticText(at + QPoint(dx, dy), label)
        painter.setPen(bar.palette.color(QPalette.ColorRole.HighlightedText))
        painter.drawStaticText(at, label)
    if not filled.contains(text):
        painter.setClipRegion(QRegion(bar.rect).subtracted(QRegion(filled)))
        painter.setPen(bar.palette.color(QPalette.ColorRole.Text))
        painter.drawStaticText(at, label)


@lru_cache(maxsize=2048)  # about a thousand percentages, in a font or two
def _label(text: str, font: QFont) -> QStaticText:
    label = QStaticText(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.prepare(QTransform(), font)
    return label


def _filled_part(contents: QRect, progress: float, direction: Qt.LayoutDirection) -> QRect:
    """The part of the bar's contents that the chunk covers, from the start side."""
    width = round(contents.width() * min(max(progress, 0.0), 1.0))
    filled = QRect(contents.left(), contents.top(), width, contents.height())
    if direction == Qt.LayoutDirection.RightToLeft:
        filled.moveRight(contents.right())
    return filled
