"""The add-magnet dialog: the link, where it goes, and what happens when its metadata arrives.

A magnet link holds no file list (BEP 9: the peers send it), so the user may ask to stop
and choose the files once it arrives; that choice is remembered for every magnet link,
also those dropped on the window or given on the command line. A malformed link is
refused here, with the engine's own sentence, and nothing is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.errors import MagnetError
from app.engine.magnet import parse_magnet
from app.ui import formatting
from app.ui.dialogs.parts import ERROR_STYLE, folder_row
from app.ui.settings import (
    choose_magnet_files,
    last_save_dir,
    remember_choose_magnet_files,
    remember_save_dir,
)


@dataclass(frozen=True, slots=True)
class MagnetRequest:
    link: str
    save_path: Path
    paused: bool
    choose_files: bool  # stop when the metadata arrives, for the user to choose the files


def clipboard_magnet() -> str:
    """The clipboard's text if it is a magnet link, else ''."""
    text = QGuiApplication.clipboard().text().strip()
    return text if text.lower().startswith("magnet:") else ""


class AddMagnetDialog(QDialog):
    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.setWindowTitle("Add magnet link")
        self.resize(600, 0)
        self.link_edit = QLineEdit(clipboard_magnet())
        self.link_edit.setPlaceholderText("magnet:?xt=urn:btih:…")
        self.link_edit.setClearButtonEnabled(True)
        self.link_edit.setCursorPosition(0)  # the start says what it is; the end is trackers
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.save_path_edit = QLineEdit(str(last_save_dir(settings)))
        self.choose_files_box = QCheckBox("Choose files when the metadata arrives")
        self.choose_files_box.setToolTip(
            "The torrent pauses once its peers have sent the file list, so you can untick files"
        )
        self.choose_files_box.setChecked(choose_magnet_files(settings))
        self.start_box = QCheckBox("Start at once")
        self.start_box.setChecked(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.add_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.add_button.setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.link_edit.textChanged.connect(self._link_edited)
        form = QFormLayout()
        self._form = form
        form.addRow("Magnet link:", self.link_edit)
        form.addRow("", self.error_label)
        form.addRow("Save to:", folder_row(self.save_path_edit, "Save to"))
        form.addRow("", self.choose_files_box)
        form.addRow("", self.start_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch()
        layout.addWidget(buttons)
        self._link_edited()

    def request(self) -> MagnetRequest:
        return MagnetRequest(
            self.link(),
            self.save_path(),
            not self.start_box.isChecked(),
            self.choose_files_box.isChecked(),
        )

    def link(self) -> str:
        return self.link_edit.text().strip()

    def save_path(self) -> Path:
        return Path(self.save_path_edit.text().strip()).expanduser()

    def accept(self) -> None:
        """Close only on a well-formed link; else say what is wrong with it and stay open."""
        try:
            parse_magnet(self.link())
        except MagnetError as error:
            self._show_error(formatting.sentence(str(error)))
            return
        remember_save_dir(self._settings, self.save_path())
        remember_choose_magnet_files(self._settings, self.choose_files_box.isChecked())
        super().accept()

    def _show_error(self, sentence: str) -> None:
        self.error_label.setText(sentence)
        self._form.setRowVisible(self.error_label, True)
        self.link_edit.setFocus()

    def _link_edited(self) -> None:
        self._form.setRowVisible(self.error_label, False)
        self.add_button.setEnabled(bool(self.link()))

