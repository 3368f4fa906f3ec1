"""A torrent's files as a tree to tick: what the add and file-selection dialogs share.

Sizes and priorities per file and folder, "Select all" / "Select none", and a line that
says how much is chosen. Pad files (BEP 47) are hidden by the model.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.engine.snapshots import FileSnapshot
from app.ui import formatting
from app.ui.models.files import NAME, PRIORITY, PROGRESS, SIZE, FileModel

EXPAND_ALL_UP_TO = 200  # files; past that, only the top folder opens


def chosen_text(count: int, total_count: int, size: int, total_size: int) -> str:
    """'3 of 50 files chosen · 1.2 GiB of 4.0 GiB', or why nothing will be downloaded."""
    if count == 0:
        return "Tick at least one file to download"
    if count == total_count:
        files = f"All {formatting.count(count)} files" if count > 1 else "1 file"
        return f"{files} · {formatting.size(total_size)}"
    return (
        f"{formatting.count(count)} of {formatting.count(total_count)} files chosen"
        f" · {formatting.size(size)} of {formatting.size(total_size)}"
    )


class FileChooser(QWidget):
    """Signals:
    chosen_changed(int): how many files are ticked, after any change.
    """

    chosen_changed = Signal(int)

    def __init__(self, files: Sequence[FileSnapshot], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileModel(self)
        self.model.set_files(files)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        # Long release names differ at the end (episode, extension): keep both ends.
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        # Nothing is downloaded yet: progress would be a column of zeros.
        self.view.hideColumn(PROGRESS)
        if self.model.file_count() <= EXPAND_ALL_UP_TO:
            self.view.expandAll()
        else:
            self.view.expandToDepth(0)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (SIZE, PRIORITY):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.select_all = QPushButton("Select all")
        self.select_none = QPushButton("Select none")
        self.select_all.clicked.connect(lambda: self.model.set_all_wanted(True))
        self.select_none.clicked.connect(lambda: self.model.set_all_wanted(False))
        self.summary = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.select_all)
        row.addWidget(self.select_none)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        self.model.priorities_changed.connect(lambda _priorities: self._show_chosen())
        self._show_chosen()

    def priorities(self) -> list[int]:
        """One per file of the torrent, pad files included."""
        return self.model.priorities()

    def chosen_count(self) -> int:
        return self.model.wanted()[0]

    def _show_chosen(self) -> None:
        count, size = self.model.wanted()
        self.summary.setText(
            chosen_text(count, self.model.file_count(), size, self.model.total_size())
        )
        self.chosen_changed.emit(count)
