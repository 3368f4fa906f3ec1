"""Preferences: where downloads go, the listening port, closing to the tray."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.settings import Preferences


class PreferencesDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.resize(520, 0)
        self.download_dir_edit = QLineEdit(str(preferences.download_dir))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.download_dir_edit, 1)
        folder_row.addWidget(browse)
        self.port_box = QSpinBox()
        self.port_box.setRange(0, 65535)
        self.port_box.setSpecialValueText("Any free port")
        self.port_box.setValue(preferences.listen_port)
        self.close_to_tray_box = QCheckBox("Closing the window keeps Piecemeal running in the tray")
        self.close_to_tray_box.setChecked(preferences.close_to_tray)
        note = QLabel("A new port takes effect the next time Piecemeal starts.")
        note.setWordWrap(True)
        note.setEnabled(False)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Download folder:", folder_row)
        form.addRow("Listening port:", self.port_box)
        form.addRow("", note)
        form.addRow("", self.close_to_tray_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addStretch()
        layout.addWidget(buttons)

    def preferences(self) -> Preferences:
        return Preferences(
            download_dir=Path(self.download_dir_edit.text().strip()).expanduser(),
            listen_port=self.port_box.value(),
            close_to_tray=self.close_to_tray_box.isChecked(),
        )

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Download folder", self.download_dir_edit.text()
        )
        if folder:
            self.download_dir_edit.setText(folder)
