"""Create a .torrent from a file or folder, with a progress bar; optionally seed it at once.

Hashing runs in a worker thread (create_torrent blocks by design). The worker only stores
its progress in a plain attribute, which a timer in the GUI thread shows: no Qt call
crosses threads. Cancel sets the creator's cancel event.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.creator import DEFAULT_FORMAT, CreationCancelled, create_torrent
from app.engine.errors import EngineError
from app.ui import formatting

_PIECE_LENGTHS = [2**exponent for exponent in range(14, 25)]  # 16 KiB .. 16 MiB
_FORMAT_CHOICES = (
    ("Hybrid: v1 and v2", "hybrid"),
    ("v1 only (BEP 3)", "v1"),
    ("v2 only (BEP 52)", "v2"),
)
_STEPS = 1000

# Receives the new torrent's bytes and the folder that holds its data.
SeedCallback = Callable[[bytes, Path], None]


def parse_tiers(text: str) -> list[list[str]]:
    """One tracker URL per line; an empty line starts the next tier (BEP 12)."""
    tiers: list[list[str]] = [[]]
    for line in text.splitlines():
        url = line.strip()
        if url:
            tiers[-1].append(url)
        elif tiers[-1]:
            tiers.append([])
    return [tier for tier in tiers if tier]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class CreateTorrentDialog(QDialog):
    """Signals:
    created(str): the path of the .torrent written.
    """

    created = Signal(str)

    def __init__(self, on_seed: SeedCallback, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_seed = on_seed
        self._cancel = threading.Event()
        self._task: asyncio.Future[None] | None = None
        self._hashed = (0, 1)  # (bytes done, bytes in all), written by the worker thread
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(100)
        self._progress_timer.timeout.connect(self._show_progress)
        self.setWindowTitle("Create torrent")
        self.resize(560, 520)

        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("A file or a folder to share")
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._choose_file)
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._choose_folder)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(file_button)
        source_row.addWidget(folder_button)

        self.trackers_edit = QPlainTextEdit()
        self.trackers_edit.setPlaceholderText(
            "One tracker URL per line; an empty line starts a new tier"
        )
        self.web_seeds_edit = QPlainTextEdit()
        self.web_seeds_edit.setPlaceholderText("Web seed URLs, one per line (optional)")
        self.web_seeds_edit.setMaximumHeight(64)
        self.piece_length_box = QComboBox()
        self.piece_length_box.addItem("Automatic", None)
        for length in _PIECE_LENGTHS:
            self.piece_length_box.addItem(formatting.size(length), length)
        self.format_box = QComboBox()
        for label, value in _FORMAT_CHOICES:
            self.format_box.addItem(label, value)
        self.format_box.setCurrentIndex(self.format_box.findData(DEFAULT_FORMAT))
        self.format_box.setToolTip(
            "Hybrid reaches v1 and v2 clients alike; v2 adds per-file SHA-256 hashes (BEP 52). "
            "Some old clients (Transmission 3, aria2) cannot open hybrid or v2 torrents: choose v1 for them."
        )
        self.comment_edit = QLineEdit()
        self.private_box = QCheckBox("Private torrent (no DHT or peer exchange)")
        self.seed_box = QCheckBox("Start seeding when done")
        self.seed_box.setChecked(True)

        self.progress = QProgressBar()
        self.progress.setRange(0, _STEPS)
        self.progress.setValue(0)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton(
            "Create…", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.create_button.clicked.connect(self._start)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Source:", source_row)
        form.addRow("Trackers:", self.trackers_edit)
        form.addRow("Web seeds:", self.web_seeds_edit)
        form.addRow("Piece size:", self.piece_length_box)
        form.addRow("Format:", self.format_box)
        form.addRow("Comment:", self.comment_edit)
        form.addRow("", self.private_box)
        form.addRow("", self.seed_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def create(self, source: Path, destination: Path) -> asyncio.Future[None]:
        """Hash `source` into `destination` in a worker thread; the dialog shows how far it got."""
        self._cancel.clear()
        self.create_button.setEnabled(False)
        self.status.setText(f"Hashing {source.name}…")
        self._task = asyncio.ensure_future(self._create(source, destination))
        return self._task

    def reject(self) -> None:
        self._cancel.set()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._cancel.set()
        super().closeEvent(event)

    async def _create(self, source: Path, destination: Path) -> None:
        job = functools.partial(
            create_torrent,
            source,
            trackers=parse_tiers(self.trackers_edit.toPlainText()),
            piece_length=self.piece_length_box.currentData(),
            format=self.format_box.currentData(),
            private=self.private_box.isChecked(),
            comment=self.comment_edit.text().strip(),
            web_seeds=_lines(self.web_seeds_edit.toPlainText()),
            progress=self._record_progress,
            cancel=self._cancel,
        )
        self._progress_timer.start()
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="create-torrent-dialog")
        try:
            data = await asyncio.wrap_future(worker.submit(job))
            await asyncio.wrap_future(worker.submit(destination.write_bytes, data))
        except CreationCancelled:
            return
        except (EngineError, OSError) as error:
            self._fail(
                str(error) if isinstance(error, EngineError) else f"{destination}: {error.strerror}"
            )
            return
        finally:
            self._progress_timer.stop()
            worker.shutdown(wait=False)
        self.progress.setValue(_STEPS)
        self.status.setText(f"Saved {destination}.")
        self.created.emit(str(destination))
        if self.seed_box.isChecked():
            self._on_seed(data, source.parent)
        self.accept()

    def _fail(self, message: str) -> None:
        self.status.setText(message)
        self.create_button.setEnabled(True)

    def _record_progress(self, done: int, total: int) -> None:
        self._hashed = (done, total)

    def _show_progress(self) -> None:
        done, total = self._hashed
        self.progress.setValue(_STEPS if total == 0 else done * _STEPS // total)

    def _start(self) -> None:
        source = Path(self.source_edit.text().strip()).expanduser()
        if not self.source_edit.text().strip() or not source.exists():
            self.status.setText("Choose a file or a folder that exists.")
            return
        destination, _ = QFileDialog.getSaveFileName(
            self,
            "Save torrent as",
            str(source.parent / f"{source.name}.torrent"),
            "Torrent files (*.torrent)",
        )
        if destination:
            self.create(source, Path(destination))

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Share a file")
        if path:
            self.source_edit.setText(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Share a folder")
        if path:
            self.source_edit.setText(path)
