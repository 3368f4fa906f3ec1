"""The Log tab's rows: the buffer's records at or above the level the user filters by.

At each refresh only the records after the last one shown are appended, and the oldest rows
go once there are more than the buffer keeps: the model never holds more than the buffer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyle

from app.ui.log_buffer import LogBuffer, LogEntry

Index = QModelIndex | QPersistentModelIndex


class LogColumn(IntEnum):
    TIME = 0
    LEVEL = 1
    SOURCE = 2
    MESSAGE = 3


_HEADERS = ("Time", "Level", "Source", "Message")
LEVEL_NAMES = {
    logging.DEBUG: "Debug",
    logging.INFO: "Info",
    logging.WARNING: "Warning",
    logging.ERROR: "Error",
    logging.CRITICAL: "Critical",
}
_ICONS = {
    logging.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
    logging.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    logging.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
}
# Readable on a light and on a dark base: (light, dark).
_COLOURS = {
    logging.WARNING: ("#8a5a00", "#e3b341"),
    logging.ERROR: ("#c62828", "#ff7b72"),
}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level) or logging.getLevelName(level).title()


def _step(level: int) -> int:
    """The nearest standard level at or below `level` (a custom level 25 counts as INFO)."""
    return max((known for known in LEVEL_NAMES if known <= level), default=logging.DEBUG)


def level_colour(level: int, palette: QPalette) -> QColor:
    step = min(_step(level), logging.ERROR)
    if step < logging.INFO:
        return palette.color(QPalette.ColorRole.PlaceholderText)  # debug: quiet
    pair = _COLOURS.get(step)
    if pair is None:
        return palette.color(QPalette.ColorRole.Text)
    light, dark = pair
    return QColor(dark if palette.color(QPalette.ColorRole.Base).lightness() < 128 else light)


def source_name(logger: str) -> str:
    """app.engine.peer -> engine.peer: our own prefix says nothing."""
    return logger.removeprefix("app.")


class LogModel(QAbstractTableModel):
    def __init__(self, buffer: LogBuffer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._buffer = buffer
        self._rows: list[LogEntry] = []
        self._last = 0  # the number of the last record looked at
        self._minimum = logging.DEBUG
        self._icons: dict[int, QIcon] = {}
        self._roles: dict[int, Callable[[LogEntry, int], Any]] = {
            Qt.ItemDataRole.DisplayRole: self._text,
            Qt.ItemDataRole.DecorationRole: self._icon,
            Qt.ItemDataRole.ForegroundRole: lambda entry, _c: level_colour(
                entry.level, QApplication.palette()
            ),
            Qt.ItemDataRole.ToolTipRole: self._tooltip,
        }

    @property
    def minimum_level(self) -> int:
        return self._minimum

    def set_minimum_level(self, level: int) -> None:
        """Show the records at or above `level`, from all the buffer keeps."""
        kept = self._buffer.after(0)
        self.beginResetModel()
        self._minimum = level
        self._rows = [e for e in kept if e.level >= level]
        self._last = kept[-1].number if kept else self._last
        self.endResetModel()

    def refresh(self) -> int:
        """Append the records logged since the last refresh; how many rows came."""
        fresh = self._buffer.after(self._last)
        if fresh:
            self._last = fresh[-1].number
        new = [e for e in fresh if e.level >= self._minimum]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        self._drop_oldest()
        return len(new)

    def entry(self, row: int) -> LogEntry:
        return self._rows[row]

    # Qt's model interface

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section] if 0 <= section < len(_HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        getter = self._roles.get(role)
        if getter is None or not index.isValid() or index.row() >= len(self._rows):
            return None
        return getter(self._rows[index.row()], index.column())

    # Internals

    def _drop_oldest(self) -> None:
        extra = len(self._rows) - self._buffer.capacity
        if extra > 0:
            self.beginRemoveRows(QModelIndex(), 0, extra - 1)
            del self._rows[:extra]
            self.endRemoveRows()

    @staticmethod
    def _text(entry: LogEntry, column: int) -> str:
        return {
            LogColumn.TIME: lambda: time.strftime("%H:%M:%S", time.localtime(entry.created)),
            LogColumn.LEVEL: lambda: level_name(entry.level),
            LogColumn.SOURCE: lambda: source_name(entry.source),
            LogColumn.MESSAGE: lambda: entry.message.splitlines()[0] if entry.message else "",
        }[LogColumn(column)]()

    def _icon(self, entry: LogEntry, column: int) -> QIcon | None:
        pixmap = _ICONS.get(min(_step(entry.level), logging.ERROR))
        if column != LogColumn.LEVEL or pixmap is None:
            return None
        if pixmap not in self._icons:
            self._icons[pixmap] = QApplication.style().standardIcon(pixmap)
        return self._icons[pixmap]

    @staticmethod
    def _tooltip(entry: LogEntry, column: int) -> str | None:
        if column != LogColumn.MESSAGE:
            return None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.created))
        text = f"{stamp} {level_name(entry.level)} {entry.source}\n{entry.message}"
        return f"{text}\n{entry.detail}" if entry.detail else text
