"""Category ▸ and Tags ▸ for the selected torrents, and the small dialogs their "New…" opens.

The submenus fill themselves when they open, from the bridge's last snapshot: the same menu
serves the menu bar and the torrent list's context menu.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from app.engine.snapshots import TorrentSnapshot
from app.ui.bridge import EngineBridge
from app.ui.dialogs.parts import folder_row
from app.ui.icons import icon

NO_CATEGORY = "(None)"


class NewCategoryDialog(QDialog):
    """A name and, optionally, the folder its torrents are saved in."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New category")
        self.name_edit = QLineEdit()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("The download folder")
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Save in:", folder_row(self.folder_edit, "Folder for this category"))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(460, 0)

    def name(self) -> str:
        return self.name_edit.text().strip()

    def folder(self) -> str:
        return self.folder_edit.text().strip()


class LabelMenus:
    """Owned by the main window; `dialog` is the "New…" dialog open now, if any (for tests)."""

    def __init__(self, parent: QWidget, bridge: EngineBridge, selected: Callable[[], list[TorrentSnapshot]]) -> None:
        self._parent = parent
        self._bridge = bridge
        self._selected = selected
        self.dialog: QDialog | None = None

    def category_menu(self, parent: QWidget) -> QMenu:
        menu = QMenu("Cate&gory", parent)
        menu.setIcon(icon("category"))
        menu.aboutToShow.connect(lambda: self._fill_categories(menu))
        return menu

    def tags_menu(self, parent: QWidget) -> QMenu:
        menu = QMenu("&Tags", parent)
        menu.setIcon(icon("tag"))
        menu.aboutToShow.connect(lambda: self._fill_tags(menu))
        return menu

    def _fill_categories(self, menu: QMenu) -> None:
        menu.clear()
        torrents = self._selected()
        current = {t.category for t in torrents}
        group = QActionGroup(menu)
        names = [""] + [c.name for c in self._bridge.snapshot.categories]
        for name in names:
            action = menu.addAction(name or NO_CATEGORY)
            action.setCheckable(True)
            action.setChecked(current == {name})
            action.setEnabled(bool(torrents))
            group.addAction(action)
            action.triggered.connect(lambda _=False, n=name: self._set_category(n))
        menu.addSeparator()
        menu.addAction("New…", self.ask_new_category).setEnabled(bool(torrents))

    def _fill_tags(self, menu: QMenu) -> None:
        menu.clear()
        torrents = self._selected()
        known = sorted(set(self._bridge.snapshot.tags).union(*(t.tags for t in torrents)), key=str.casefold)
        for tag in known:
            action = menu.addAction(tag)
            action.setCheckable(True)
            action.setChecked(bool(torrents) and all(tag in t.tags for t in torrents))
            action.setEnabled(bool(torrents))
            action.toggled.connect(lambda on, name=tag: self._set_tag(name, on))
        if known:
            menu.addSeparator()
        menu.addAction("New…", self.ask_new_tag).setEnabled(bool(torrents))

    def _set_category(self, name: str) -> None:
        self._bridge.set_category([t.info_hash for t in self._selected()], name)

    def _set_tag(self, tag: str, on: bool) -> None:
        self._bridge.set_tag([t.info_hash for t in self._selected()], tag, on=on)

    def ask_new_category(self, then_set: bool = True) -> NewCategoryDialog:
        """Ask for a name and folder; the selected torrents join the new category."""
        hashes = [t.info_hash for t in self._selected()] if then_set else []
        dialog = NewCategoryDialog(self._parent)
        dialog.accepted.connect(lambda: self._create_category(dialog, hashes))
        self._open(dialog)
        return dialog

    def ask_new_tag(self) -> QInputDialog:
        hashes = [t.info_hash for t in self._selected()]
        dialog = QInputDialog(self._parent)
        dialog.setWindowTitle("New tag")
        dialog.setLabelText("Tag for the selected torrents:")
        dialog.textValueSelected.connect(lambda text: self._bridge.set_tag(hashes, text.strip(), on=True))
        self._open(dialog)
        return dialog

    def _create_category(self, dialog: NewCategoryDialog, hashes: list[str]) -> None:
        name = dialog.name()
        added = self._bridge.add_category(name, dialog.folder())
        if hashes:
            added.add_done_callback(
                lambda done: None if done.cancelled() or done.exception() else self._bridge.set_category(hashes, name)
            )

    def _open(self, dialog: QDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
