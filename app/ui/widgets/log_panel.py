"""The Log tab: recent log records, filtered by level, with what is recorded and where.

It reads the buffer on its own timer, and only while it is shown: a hidden tab costs nothing.
New rows scroll into view only if the user was at the bottom already, so reading an older
record is not interrupted.
"""

from __future__ import annotations

import logging
from typing import Final

from PySide6.QtCore import QSettings, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.ui.app_log import AppLog, recording_level
from app.ui.models.log import LogColumn, LogModel

REFRESH_MS: Final = 500
# The filter's choices: what the user reads, and the least level shown.
FILTERS: Final = (
    ("Everything recorded", logging.DEBUG),
    ("Information and above", logging.INFO),
    ("Warnings and errors", logging.WARNING),
    ("Errors only", logging.ERROR),
)
RECORDING: Final = {
    logging.DEBUG: "everything (for debugging)",
    logging.INFO: "information, warnings and errors",
    logging.WARNING: "warnings and errors",
    logging.ERROR: "errors only",
}
_WIDTHS: Final = {LogColumn.TIME: 70, LogColumn.LEVEL: 90, LogColumn.SOURCE: 150}


class LogPanel(QWidget):
    def __init__(self, log: AppLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._log = log
        self.model = LogModel(log.buffer, self)
        self.filter_box = QComboBox()
        for text, level in FILTERS:
            self.filter_box.addItem(text, level)
        self.filter_box.setCurrentIndex(1)
        self.filter_box.currentIndexChanged.connect(self._filter_changed)
        self.recording_label = QLabel()
        self.recording_label.setEnabled(False)  # the palette's quiet text colour
        # A long path is cut, not allowed to widen the window; the tooltip has it all.
        self.recording_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_button = QPushButton("Open log file")
        self.open_button.setVisible(log.path is not None)
        self.open_button.clicked.connect(self._open_file)
        self.view = self._make_view()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._layout()
        self.model.set_minimum_level(logging.INFO)

    def _make_view(self) -> QTableView:
        view = QTableView()
        view.setModel(self.model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setShowGrid(False)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
        header = view.horizontalHeader()
        for column, width in _WIDTHS.items():
            header.resizeSection(column, width)
        header.setSectionResizeMode(LogColumn.MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        return view

    def _layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter_box)
        bar.addSpacing(12)
        bar.addWidget(self.recording_label, 1)
        bar.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)

    def refresh(self) -> None:
        """Take the records logged since the last look; follow them if at the bottom."""
        self._show_recording()
        scroll = self.view.verticalScrollBar()
        following = scroll.value() >= scroll.maximum()
        if self.model.refresh() and following:
            self.view.scrollToBottom()

    def save_state(self, settings: QSettings) -> None:
        settings.setValue("details/log_filter", self.filter_box.currentIndex())

    def restore_state(self, settings: QSettings) -> None:
        index = int(settings.value("details/log_filter", 1))  # type: ignore[arg-type]
        self.filter_box.setCurrentIndex(index if 0 <= index < len(FILTERS) else 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def _filter_changed(self, index: int) -> None:
        self.model.set_minimum_level(self.filter_box.itemData(index))
        self.view.scrollToBottom()

    def _show_recording(self) -> None:
        level = recording_level()
        where = f" in {self._log.path}" if self._log.path else ""
        text = f"Recording {RECORDING.get(level, logging.getLevelName(level))}{where}"
        self.recording_label.setText(text)
        self.recording_label.setToolTip(f"{text}. Change what is recorded in Preferences → Log.")

    def _open_file(self) -> None:
        if self._log.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._log.path)))
