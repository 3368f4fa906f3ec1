"""Choosing a magnet's files once its metadata arrived: the torrent waits, paused, until OK.

OK sets the file priorities and starts the torrent; "Keep paused" leaves it as it is, to
be started later from the list (the Files tab can still change the choice).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.engine.snapshots import FileSnapshot
from app.ui import formatting
from app.ui.dialogs.parts import title_label
from app.ui.models.files import is_pad_file
from app.ui.widgets.file_chooser import FileChooser


def files_summary(files: Sequence[FileSnapshot]) -> str:
    """'4.0 GiB in 50 files', pad files left out."""
    shown = [f for f in files if not is_pad_file(f)]
    plural = "" if len(shown) == 1 else "s"
    size = formatting.size(sum(f.size for f in shown))
    return f"{size} in {formatting.count(len(shown))} file{plural}"


class ChooseFilesDialog(QDialog):
    def __init__(
        self,
        info_hash: str,
        name: str,
        files: Sequence[FileSnapshot],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.info_hash = info_hash
        self.setWindowTitle(f"Choose files — {name}")
        self.resize(720, 520)
        self.name_label = title_label(name)
        summary = QLabel(
            f"{files_summary(files)} · tick the ones to download; until then the torrent waits."
        )
        summary.setWordWrap(True)
        self.chooser = FileChooser(files)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.start_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Download")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Keep paused")
        self.chooser.chosen_changed.connect(lambda count: self.start_button.setEnabled(count > 0))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.name_label)
        layout.addWidget(summary)
        layout.addWidget(self.chooser, 1)
        layout.addWidget(buttons)

    def priorities(self) -> list[int]:
        """One per file of the torrent, pad files included."""
        return self.chooser.priorities()
