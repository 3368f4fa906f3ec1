"""The percentage on a progress bar reads over the filled and the unfilled part, selected or not."""

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QStyleFactory, QTableView

from app.ui.models.roles import PROGRESS_ROLE
from app.ui.widgets.progress_delegate import ProgressDelegate

PALETTES = {
    "light": {"Base": "#a8a8a8", "Window": "#a8a8a8", "Text": "#000000", "Highlight": "#1e64c8", "HighlightedText": "#ffffff"},
    "dark": {"Base": "#2a2a2a", "Window": "#353535", "Text": "#ffffff", "Highlight": "#2a82da", "HighlightedText": "#000000"},
}


def _palette(colours: dict[str, str]) -> QPalette:
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    return palette


def _near(pixel: QColor, colour: QColor) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel.getRgb()[:3], colour.getRgb()[:3]))


def _count(image: QImage, area: QRect, colour: QColor) -> int:
    return sum(
        _near(image.pixelColor(x, y), colour)
        for x in range(area.left(), area.right() + 1)
        for y in range(area.top(), area.bottom() + 1)
    )


@pytest.mark.parametrize("style", ["Fusion", "Windows"])
@pytest.mark.parametrize("theme", PALETTES)
@pytest.mark.parametrize("selected", [False, True])
def test_the_percentage_takes_the_colour_of_the_part_it_is_over(qtbot, style, theme, selected):
    colours = PALETTES[theme]
    model = QStandardItemModel(1, 1)
    item = QStandardItem()
    item.setData(0.5, PROGRESS_ROLE)
    model.setItem(0, 0, item)
    view = QTableView()
    qtbot.addWidget(view)
    view.setStyle(QStyleFactory.create(style))
    view.setPalette(_palette(colours))
    view.setModel(model)
    view.setItemDelegateForColumn(0, ProgressDelegate(view))
    view.setColumnWidth(0, 300)
    view.verticalHeader().setDefaultSectionSize(30)
    view.resize(340, 80)
    view.show()
    if selected:
        view.selectRow(0)
    image = view.viewport().grab().toImage()
    cell = view.visualRect(model.index(0, 0))
    text_width = view.fontMetrics().horizontalAdvance("50.0%")
    middle = cell.center().x()
    band = QRect(middle - text_width // 2, cell.top() + 6, text_width, cell.height() - 12)
    filled = QRect(band.left(), band.top(), text_width // 2 - 2, band.height())
    unfilled = QRect(middle + 3, band.top(), text_width // 2 - 3, band.height())
    text, highlighted = QColor(colours["Text"]), QColor(colours["HighlightedText"])
    assert _count(image, unfilled, text) > 10, "no text colour over the unfilled part"
    assert _count(image, unfilled, highlighted) == 0, "highlighted text over the unfilled part"
    assert _count(image, filled, highlighted) > 10, "no highlighted text over the filled part"
