"""The add dialog: what the torrent holds, where it goes, whether it starts at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.labels import Category
from app.engine.metainfo import Metainfo
from app.engine.snapshots import FileSnapshot
from app.ui import formatting
from app.ui.dialogs.parts import folder_row, title_label
from app.ui.settings import last_save_dir, remember_save_dir
from app.ui.widgets.file_chooser import FileChooser

@dataclass(frozen=True, slots=True)
class AddRequest:
    metainfo: Metainfo
    save_path: Path
    paused: bool
    priorities: tuple[int, ...]  # one per file of the metainfo, pad files included
    category: str = ""  # "" none


def all_priorities(metainfo: Metainfo, shown: list[int]) -> tuple[int, ...]:
    """The dialog's choices for the files it shows, spread over every file (pad files: 1)."""
    choices = iter(shown)
    return tuple(1 if entry.padding else next(choices) for entry in metainfo.files)


def metainfo_files(metainfo: Metainfo) -> tuple[FileSnapshot, ...]:
    """The files as the Files tab shows them; BEP 47 pad files are not the user's business."""
    return tuple(
        FileSnapshot(path="/".join(entry.path), size=entry.length, downloaded=0, priority=1)
        for entry in metainfo.files
        if not entry.padding
    )


class AddTorrentDialog(QDialog):
    def __init__(
        self, metainfo: Metainfo, settings: QSettings, parent: QWidget | None = None,
        categories: tuple[Category, ...] = (),
    ) -> None:
        super().__init__(parent)
        self._metainfo = metainfo
        self._settings = settings
        self.setWindowTitle("Add torrent")
        self.resize(620, 460)

        self.name_label = title_label(metainfo.name)
        files = metainfo_files(metainfo)
        plural = "" if len(files) == 1 else "s"
        size = formatting.size(metainfo.total_length)
        summary = QLabel(
            f"{size} in {formatting.count(len(files))} file{plural}"
            f" · {formatting.pieces_text(metainfo.num_pieces, metainfo.piece_length)} pieces"
        )

        self.save_path_edit = QLineEdit(str(last_save_dir(settings)))
        self.category_box = self._category_box(categories)

        self.chooser = FileChooser(files)
        self.files_model = self.chooser.model
        self.files_view = self.chooser.view

        self.start_paused = QCheckBox("Start paused")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        add = buttons.button(QDialogButtonBox.StandardButton.Ok)
        add.setText("Add")
        self.chooser.chosen_changed.connect(lambda count: add.setEnabled(count > 0))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Category:", self.category_box)
        form.addRow("Save to:", folder_row(self.save_path_edit, "Save to"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.name_label)
        layout.addWidget(summary)
        layout.addLayout(form)
        layout.addWidget(self.chooser, 1)
        layout.addWidget(self.start_paused)
        layout.addWidget(buttons)

    def _category_box(self, categories: tuple[Category, ...]) -> QComboBox:
        """Choosing a category with its own folder puts that folder in "Save to"."""
        box = QComboBox()
        box.addItem("(None)", "")
        folders = {c.name: c.save_path for c in categories}
        for category in categories:
            box.addItem(category.name, category.name)
        chosen_folder = self.save_path_edit.text()

        def chosen(_index: int) -> None:
            folder = folders.get(box.currentData(), "")
            self.save_path_edit.setText(folder or chosen_folder)

        box.currentIndexChanged.connect(chosen)
        return box

    def request(self) -> AddRequest:
        priorities = all_priorities(self._metainfo, self.files_model.priorities())
        return AddRequest(
            self._metainfo, self.save_path(), self.start_paused.isChecked(), priorities,
            self.category_box.currentData(),
        )

    def save_path(self) -> Path:
        return Path(self.save_path_edit.text().strip()).expanduser()

    def accept(self) -> None:
        remember_save_dir(self._settings, self.save_path())
        super().accept()

