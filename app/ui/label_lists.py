"""The sidebar's Categories and Tags lists, under the state filters; the three filters combine."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from app.engine.labels import Category
from app.ui.icons import app_icon, icon
from app.ui.label_filter import UNLABELLED, LabelCounts, LabelFilter

ANY_TEXT = "All"
NO_CATEGORY_TEXT = "Uncategorized"
NO_TAG_TEXT = "Untagged"
_ROLE = Qt.ItemDataRole.UserRole


class _LabelList(QListWidget):
    """One list: All, the unlabelled ones, then one entry per name.

    The wanted entry is kept when the names change, and one chosen before it exists (restored
    at start-up, before the first snapshot) is selected as soon as it shows up.
    """

    def __init__(self, unlabelled_text: str, item_icon: QIcon) -> None:
        super().__init__()
        self._unlabelled_text = unlabelled_text
        self._icon = item_icon
        self._names: tuple[str, ...] | None = None
        self._wanted: str | None = None
        self.currentItemChanged.connect(lambda *_: setattr(self, "_wanted", self.chosen()))

    def show_names(self, names: Sequence[str], counts: dict[str, int], total: int) -> None:
        if tuple(names) != self._names:
            self._rebuild(tuple(names))
        texts = {None: ANY_TEXT, UNLABELLED: self._unlabelled_text}
        for row in range(self.count()):
            item = self.item(row)
            key = item.data(_ROLE)
            n = total if key is None else counts.get(key, 0)
            text = f"{texts.get(key, key)} ({n})"
            if item.text() != text:
                item.setText(text)

    def chosen(self) -> str | None:
        item = self.currentItem()
        return None if item is None else item.data(_ROLE)

    def choose(self, key: str | None) -> None:
        rows = [row for row in range(self.count()) if self.item(row).data(_ROLE) == key]
        self.setCurrentRow(rows[0] if rows else 0)
        self._wanted = key

    def _rebuild(self, names: tuple[str, ...]) -> None:
        chosen, wanted = self.chosen(), self._wanted
        self.blockSignals(True)
        self.clear()
        for key in (None, UNLABELLED, *names):
            item = QListWidgetItem(app_icon() if key is None else self._icon, "")
            item.setData(_ROLE, key)
            self.addItem(item)
        self._names = names
        self.choose(wanted)
        self.blockSignals(False)
        if self.chosen() != chosen:
            self.currentItemChanged.emit(self.currentItem(), None)


class LabelLists(QWidget):
    """Signals:
    filter_changed(LabelFilter): the user chose another category or tag.
    new_category_requested(): "New category…" from the Categories list's menu.
    remove_category_requested(str): "Remove category" on one of them.
    """

    filter_changed = Signal(object)
    new_category_requested = Signal()
    remove_category_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.categories = _LabelList(NO_CATEGORY_TEXT, icon("category"))
        self.tags = _LabelList(NO_TAG_TEXT, icon("tag"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for title, widget in (("Categories", self.categories), ("Tags", self.tags)):
            heading = QLabel(f"<b>{title}</b>")
            heading.setContentsMargins(4, 6, 0, 2)
            layout.addWidget(heading)
            layout.addWidget(widget, 1)
            widget.show_names((), {}, 0)
            widget.currentItemChanged.connect(lambda *_: self.filter_changed.emit(self.current()))
        self.categories.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.categories.customContextMenuRequested.connect(self._category_menu)

    def show_labels(self, categories: Sequence[Category], tags: Sequence[str], counts: LabelCounts) -> None:
        """The session's categories and tags, with how many torrents each holds."""
        names = [c.name for c in categories]
        self.categories.show_names(names, dict(counts.categories), counts.total)
        self.categories.setToolTip("")
        for row in range(2, self.categories.count()):
            item = self.categories.item(row)
            folder = next((c.save_path for c in categories if c.name == item.data(_ROLE)), "")
            item.setToolTip(f"Saved in {folder}" if folder else "Saved in the download folder")
        known = sorted(set(tags) | {t for t, n in counts.tags.items() if n > 0 and t}, key=str.casefold)
        self.tags.show_names(known, dict(counts.tags), counts.total)

    def current(self) -> LabelFilter:
        return LabelFilter(self.categories.chosen(), self.tags.chosen())

    def choose(self, chosen: LabelFilter) -> None:
        self.categories.choose(chosen.category)
        self.tags.choose(chosen.tag)

    def save_state(self, settings: QSettings) -> None:
        chosen = self.current()
        settings.setValue("sidebar/label_category", "\n" if chosen.category is None else chosen.category)
        settings.setValue("sidebar/label_tag", "\n" if chosen.tag is None else chosen.tag)

    def restore_state(self, settings: QSettings) -> None:
        """A remembered name not yet in the lists falls back to All until it shows up."""
        category, tag = (str(settings.value(f"sidebar/label_{k}", "\n")) for k in ("category", "tag"))
        self.choose(LabelFilter(None if category == "\n" else category, None if tag == "\n" else tag))

    def _category_menu(self, point: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("New category…", self.new_category_requested.emit)
        item = self.categories.itemAt(point)
        name = item.data(_ROLE) if item is not None else None
        if name:
            menu.addAction(f"Remove category “{name}”", lambda: self.remove_category_requested.emit(name))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.categories.viewport().mapToGlobal(point))
