"""Pieces several dialogs share: the torrent's name as a title, folder and file fields with Browse,
number boxes whose 0 has a name, titled groups."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

MAX_SPEED_LIMIT = 10_000_000  # KiB/s
ERROR_STYLE = "color: #d9534f"  # a message under the fields that says what is wrong


def title_label(text: str) -> QLabel:
    """A torrent's name above its files: bold, a little larger, wrapped, selectable."""
    label = QLabel(text)
    label.setToolTip(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = QFont(label.font())
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.15)
    label.setFont(font)
    return label


def folder_row(edit: QLineEdit, caption: str, button: str = "Browse…") -> QHBoxLayout:
    """The folder field with a button (Browse… unless named) that picks a folder into it."""
    return _browse_row(edit, lambda: QFileDialog.getExistingDirectory(edit.window(), caption, edit.text()), button)


def file_row(edit: QLineEdit, caption: str, filter_text: str) -> QHBoxLayout:
    """The file field with a Browse… button that picks an existing file into it."""
    return _browse_row(edit, lambda: QFileDialog.getOpenFileName(edit.window(), caption, edit.text(), filter_text)[0])


def _browse_row(edit: QLineEdit, choose: Callable[[], str], button: str = "Browse…") -> QHBoxLayout:
    browse = QPushButton(button)

    def pick() -> None:
        chosen = choose()
        if chosen:
            edit.setText(chosen)

    browse.clicked.connect(pick)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


def spin_box(value: int, maximum: int, suffix: str = "", none: str = "") -> QSpinBox:
    """A spin box from 0 to `maximum` whose 0 reads as `none` (e.g. "Unlimited") when given."""
    box = QSpinBox()
    box.setRange(0, maximum)
    box.setSuffix(suffix)
    box.setSpecialValueText(none)
    box.setValue(value)
    return box


def speed_limit_box(kib_per_second: int) -> QSpinBox:
    return spin_box(kib_per_second, MAX_SPEED_LIMIT, " KiB/s", "Unlimited")


def group_box(title: str, layout: QLayout) -> QGroupBox:
    box = QGroupBox(title)
    box.setLayout(layout)
    return box
