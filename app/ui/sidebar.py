"""The sidebar: one entry per state filter, each with how many torrents it holds."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.engine.snapshots import StopReason, TorrentState
from app.ui.icons import app_icon
from app.ui.state_filter import StateFilter
from app.ui.state_icons import state_icon

_ICONS = {
    StateFilter.DOWNLOADING: TorrentState.DOWNLOADING,
    StateFilter.SEEDING: TorrentState.SEEDING,
    StateFilter.COMPLETED: TorrentState.SEEDING,
    StateFilter.PAUSED: StopReason.USER,
    StateFilter.ERROR: StopReason.ERROR,
}


class Sidebar(QListWidget):
    """Signals:
    category_selected(StateFilter): the user picked a category.
    """

    category_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: dict[StateFilter, QListWidgetItem] = {}
        for category in StateFilter:
            item = QListWidgetItem(category.value)
            item.setData(Qt.ItemDataRole.UserRole, category)
            item.setIcon(state_icon(_ICONS[category]) if category in _ICONS else app_icon())
            self.addItem(item)
            self._items[category] = item
        self.setCurrentRow(0)
        self.setMinimumWidth(150)
        self.currentItemChanged.connect(self._changed)

    def set_counts(self, counts: Mapping[StateFilter, int]) -> None:
        for category, item in self._items.items():
            text = f"{category.value} ({counts.get(category, 0)})"
            if item.text() != text:
                item.setText(text)

    def category(self) -> StateFilter:
        item = self.currentItem()
        return StateFilter.ALL if item is None else item.data(Qt.ItemDataRole.UserRole)

    def select(self, category: StateFilter) -> None:
        self.setCurrentItem(self._items[category])

    def save_state(self, settings: QSettings) -> None:
        settings.setValue("sidebar/category", self.category().name)

    def restore_state(self, settings: QSettings) -> None:
        name = str(settings.value("sidebar/category", StateFilter.ALL.name))
        self.select(StateFilter.__members__.get(name, StateFilter.ALL))

    def _changed(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.category_selected.emit(current.data(Qt.ItemDataRole.UserRole))
