"""Pieces several dialogs share: the torrent's name as a title, folder and file fields with Browse."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton


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


def folder_row(edit: QLineEdit, caption: str) -> QHBoxLayout:
    """The folder field with a Browse… button that picks a folder into it."""
    return _browse_row(edit, lambda: QFileDialog.getExistingDirectory(edit.window(), caption, edit.text()))


def file_row(edit: QLineEdit, caption: str, filter_text: str) -> QHBoxLayout:
    """The file field with a Browse… button that picks an existing file into it."""
    return _browse_row(edit, lambda: QFileDialog.getOpenFileName(edit.window(), caption, edit.text(), filter_text)[0])


def _browse_row(edit: QLineEdit, choose: Callable[[], str]) -> QHBoxLayout:
    browse = QPushButton("Browse…")

    def pick() -> None:
        chosen = choose()
        if chosen:
            edit.setText(chosen)

    browse.clicked.connect(pick)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row
