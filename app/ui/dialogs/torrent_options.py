"""One torrent's options: its own speed limits, sequential download, and where its files live.

The dialog opens with what the user last chose in this run (the snapshots do not carry a
torrent's options); on OK it sends only what changed, through the bridge, so an engine
error (a folder it cannot write to) reaches the user as a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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

from app.ui.bridge import EngineBridge
from app.ui.settings import KIB


class TorrentCommands(Protocol):
    """The session's per-torrent commands this dialog sends."""

    async def set_torrent_limits(self, info_hash: str, down: int, up: int) -> None: ...

    async def set_sequential(self, info_hash: str, enabled: bool) -> None: ...

    async def move_storage(self, info_hash: str, new_dir: str | Path) -> None: ...


@dataclass(frozen=True, slots=True)
class TorrentChoice:
    down_limit: int = 0  # KiB/s, 0: none of its own
    up_limit: int = 0
    sequential: bool = False


def _limit_box(value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, 10_000_000)
    box.setSuffix(" KiB/s")
    box.setSpecialValueText("Unlimited")
    box.setValue(value)
    return box


class TorrentOptionsDialog(QDialog):
    def __init__(
        self,
        bridge: EngineBridge,
        commands: TorrentCommands,
        info_hash: str,
        choice: TorrentChoice,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        torrent = bridge.torrent(info_hash)
        self._bridge = bridge
        self._commands = commands
        self._info_hash = info_hash
        self._before = choice
        self._name = torrent.name if torrent else info_hash
        self._save_path = Path(torrent.save_path) if torrent else Path()
        self.setWindowTitle(f"Options of {self._name}")
        self.resize(480, 0)
        self.down_box = _limit_box(choice.down_limit)
        self.up_box = _limit_box(choice.up_limit)
        self.sequential_box = QCheckBox("Download in order (first and last pieces first)")
        self.sequential_box.setChecked(choice.sequential)
        self.folder_edit = QLineEdit(str(self._save_path) if torrent else "")
        move = QPushButton("Move storage…")
        move.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(move)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Download limit:", self.down_box)
        form.addRow("Upload limit:", self.up_box)
        form.addRow("", self.sequential_box)
        form.addRow("Files in:", folder_row)
        note = QLabel("The global limits apply too. Moving copies the files in the background.")
        note.setWordWrap(True)
        note.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addStretch()
        layout.addWidget(buttons)

    def choice(self) -> TorrentChoice:
        return TorrentChoice(
            self.down_box.value(), self.up_box.value(), self.sequential_box.isChecked()
        )

    def accept(self) -> None:
        self.apply()
        super().accept()

    def apply(self) -> None:
        """Send what changed to the session."""
        after, before, ih = self.choice(), self._before, self._info_hash
        if (after.down_limit, after.up_limit) != (before.down_limit, before.up_limit):
            self._bridge.run(
                self._commands.set_torrent_limits(ih, after.down_limit * KIB, after.up_limit * KIB),
                f"Could not set the speed limits of “{self._name}”",
            )
        if after.sequential != before.sequential:
            self._bridge.run(
                self._commands.set_sequential(ih, after.sequential),
                f"Could not change the download order of “{self._name}”",
            )
        target = Path(self.folder_edit.text().strip()).expanduser()
        if self.folder_edit.text().strip() and target != self._save_path:
            self._bridge.run(
                self._commands.move_storage(ih, target), f"Could not move “{self._name}”"
            )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Move the files to", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
