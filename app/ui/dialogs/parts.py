"""Pieces several dialogs share: the torrent's name as a title, a folder field with Browse."""

from __future__ import annotations

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
    browse = QPushButton("Browse…")

    def pick() -> None:
        folder = QFileDialog.getExistingDirectory(edit.window(), caption, edit.text())
        if folder:
            edit.setText(folder)

    browse.clicked.connect(pick)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row
