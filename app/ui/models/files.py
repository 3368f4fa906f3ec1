"""The files of one torrent as a folder tree: sizes, progress and priority.

Folders add up their files. Updating with the same paths touches only the files whose
progress or priority changed (and their folders); different paths rebuild the tree.
BEP 47 pad files are not shown, but keep their place in the priorities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QApplication, QStyle

from app.engine.snapshots import FileSnapshot
from app.ui import formatting
from app.ui.models.roles import PROGRESS_ROLE, SORT_ROLE

Index = QModelIndex | QPersistentModelIndex
_NO_PARENT = QModelIndex()

PRIORITY_NAMES = {0: "Skip", 1: "Normal", 2: "High"}
_HEADERS = ("Name", "Size", "Progress", "Priority")
NAME, SIZE, PROGRESS, PRIORITY = range(4)
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def is_pad_file(file: FileSnapshot) -> bool:
    """BEP 47: pad files align the next file to a piece; they are never on disk."""
    return file.padding


@dataclass(eq=False)
class FileNode:
    """A folder (file_index None) or a file; folders cache the sums of their files."""

    name: str
    parent: FileNode | None
    row: int = 0
    file_index: int | None = None
    children: list[FileNode] = field(default_factory=list)
    by_name: dict[str, FileNode] = field(default_factory=dict)
    size: int = 0
    downloaded: int = 0
    wanted_size: int = 0  # the same sums over the files not skipped
    wanted_done: int = 0
    priorities: set[int] = field(default_factory=set)

    @property
    def is_folder(self) -> bool:
        return self.file_index is None

    @property
    def shown_size(self) -> int:
        """A folder counts the files chosen for download (qBittorrent does the same), unless
        every one is skipped; a file, its own size."""
        return self.wanted_size if self.is_folder and self.wanted_size else self.size

    @property
    def progress(self) -> float:
        if self.is_folder and self.wanted_size:
            return self.wanted_done / self.wanted_size
        return 1.0 if self.size == 0 else self.downloaded / self.size

    def check_state(self) -> Qt.CheckState:
        if self.priorities == {0}:
            return Qt.CheckState.Unchecked
        if 0 in self.priorities:
            return Qt.CheckState.PartiallyChecked
        return Qt.CheckState.Checked

    def priority_text(self) -> str:
        if len(self.priorities) == 1:
            return PRIORITY_NAMES.get(next(iter(self.priorities)), "")
        return "Mixed"


class FileModel(QAbstractItemModel):
    """Signals:
    priorities_changed(list): one priority per file, after the user ticked or unticked some.
    """

    priorities_changed = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = FileNode("", None)
        self._files: tuple[FileSnapshot, ...] = ()
        self._leaves: list[FileNode] = []
        self._roles: dict[int, Callable[[FileNode, int], Any]] = {
            Qt.ItemDataRole.DisplayRole: self._display,
            Qt.ItemDataRole.ToolTipRole: self._tooltip,
            Qt.ItemDataRole.TextAlignmentRole: lambda _node, col: _LEFT if col == NAME else _RIGHT,
            Qt.ItemDataRole.CheckStateRole: lambda node, col: (
                node.check_state() if col == NAME else None
            ),
            Qt.ItemDataRole.DecorationRole: self._decoration,
            PROGRESS_ROLE: lambda node, col: node.progress if col == PROGRESS else None,
            SORT_ROLE: self._sort_value,
        }

    # Qt overrides

    def index(self, row: int, column: int, parent: Index = _NO_PARENT) -> QModelIndex:
        node = self._node(parent)
        if not (0 <= row < len(node.children) and 0 <= column < len(_HEADERS)):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: Index = _NO_PARENT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node: FileNode = index.internalPointer()
        up = node.parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: Index = _NO_PARENT) -> int:
        return len(_HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(_HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT if section == NAME else _RIGHT
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        handler = self._roles.get(role)
        if handler is None or not index.isValid():
            return None
        return handler(index.internalPointer(), index.column())

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == NAME:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Ticking a file or folder downloads it (priority 1), unticking skips it (0)."""
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or index.column() != NAME:
            return False
        node: FileNode = index.internalPointer()
        self._set_wanted(_leaves_under(node), Qt.CheckState(value) != Qt.CheckState.Unchecked)
        return True

    def set_all_wanted(self, wanted: bool) -> None:
        """Tick (or untick) every file shown, as "Select all" and "Select none" do."""
        self._set_wanted(self._leaves, wanted)

    def priorities(self) -> list[int]:
        """One per file of the torrent, pad files included."""
        return [f.priority for f in self._files]

    def wanted(self) -> tuple[int, int]:
        """How many of the shown files are ticked, and their bytes."""
        chosen = [self._files[leaf.file_index] for leaf in self._leaves]
        ticked = [f for f in chosen if f.priority != 0]
        return len(ticked), sum(f.size for f in ticked)

    def total_size(self) -> int:
        return self._root.size

    def _set_wanted(self, leaves: Sequence[FileNode], wanted: bool) -> None:
        chosen = {leaf.file_index for leaf in leaves}
        files = tuple(
            replace(f, priority=max(1, f.priority) if wanted else 0) if i in chosen else f
            for i, f in enumerate(self._files)
        )
        if files != self._files:
            self.set_files(files)
            self.priorities_changed.emit([f.priority for f in files])

    # Updating

    def set_files(self, files: Sequence[FileSnapshot]) -> None:
        files = tuple(files)
        if [(f.path, f.size) for f in files] == [(f.path, f.size) for f in self._files]:
            self._refresh(files)
            return
        self.beginResetModel()
        self._files = files
        self._root, self._leaves = _build_tree(files)
        self.endResetModel()

    def clear(self) -> None:
        self.set_files(())

    def file_count(self) -> int:
        return len(self._leaves)

    def _refresh(self, files: tuple[FileSnapshot, ...]) -> None:
        touched: dict[int, FileNode] = {}
        for leaf in self._leaves:
            before, after = self._files[leaf.file_index], files[leaf.file_index]
            if before != after:
                for node in _update_leaf(leaf, before, after):
                    touched[id(node)] = node
        self._files = files
        for node in touched.values():
            self.dataChanged.emit(
                self.createIndex(node.row, 0, node),
                self.createIndex(node.row, len(_HEADERS) - 1, node),
            )

    def relative_path(self, index: Index) -> str:
        """The file's or folder's path as the torrent lays it out, "/"-separated; "" for none."""
        names = []
        node: FileNode | None = self._node(index)
        while node is not None and node is not self._root:
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))

    def is_complete(self, index: Index) -> bool:
        """Every wanted byte under it is verified: a file that can be opened."""
        return index.isValid() and self._node(index).progress >= 1.0

    def file_index(self, index: Index) -> int | None:
        """The torrent's number for the file at `index` (None for a folder)."""
        return self._node(index).file_index if index.isValid() else None

    def is_folder(self, index: Index) -> bool:
        return self._node(index).is_folder

    # Helpers

    def _node(self, index: Index) -> FileNode:
        return index.internalPointer() if index.isValid() else self._root

    @staticmethod
    def _display(node: FileNode, column: int) -> str:
        texts = {
            NAME: lambda: node.name,
            SIZE: lambda: formatting.size(node.shown_size),
            PROGRESS: lambda: formatting.percent(node.progress),
            PRIORITY: node.priority_text,
        }
        return texts[column]()

    @staticmethod
    def _sort_value(node: FileNode, column: int) -> Any:
        values = {
            NAME: lambda: node.name.casefold(),
            SIZE: lambda: node.shown_size,
            PROGRESS: lambda: node.progress,
            PRIORITY: lambda: max(node.priorities, default=0),
        }
        return values[column]()

    def _tooltip(self, node: FileNode, column: int) -> str | None:
        if column == NAME:
            return self._path(node)
        if column == SIZE and node.shown_size != node.size:
            return f"{formatting.size(node.shown_size)} chosen of {formatting.size(node.size)} in this folder"
        return None

    @staticmethod
    def _decoration(node: FileNode, column: int) -> Any:
        if column != NAME:
            return None
        style = QApplication.style()
        icon = (
            QStyle.StandardPixmap.SP_FileIcon
            if node.file_index is not None
            else QStyle.StandardPixmap.SP_DirIcon
        )
        return style.standardIcon(icon)

    @staticmethod
    def _path(node: FileNode) -> str:
        parts = []
        current: FileNode | None = node
        while current is not None and current.parent is not None:
            parts.append(current.name)
            current = current.parent
        return "/".join(reversed(parts))


def _leaves_under(node: FileNode) -> list[FileNode]:
    if node.file_index is not None:
        return [node]
    return [leaf for child in node.children for leaf in _leaves_under(child)]


def _build_tree(files: Sequence[FileSnapshot]) -> tuple[FileNode, list[FileNode]]:
    root = FileNode("", None)
    leaves = []
    for index, file in enumerate(files):
        if is_pad_file(file):
            continue
        *folders, name = file.path.split("/")
        node = root
        for folder in folders:
            child = node.by_name.get(folder)
            if child is None:
                child = FileNode(folder, node, row=len(node.children))
                node.by_name[folder] = child
                node.children.append(child)
            node = child
        leaf = FileNode(name, node, row=len(node.children), file_index=index)
        node.children.append(leaf)
        leaves.append(leaf)
    return _rebuild_sums(root, leaves, files)


def _rebuild_sums(
    root: FileNode, leaves: list[FileNode], files: Sequence[FileSnapshot]
) -> tuple[FileNode, list[FileNode]]:
    for leaf in leaves:
        file = files[leaf.file_index]
        node: FileNode | None = leaf
        while node is not None:
            node.size += file.size
            node.downloaded += file.downloaded
            if file.priority:
                node.wanted_size += file.size
                node.wanted_done += file.downloaded
            node.priorities.add(file.priority)
            node = node.parent
    return root, leaves


def _update_leaf(leaf: FileNode, before: FileSnapshot, after: FileSnapshot) -> list[FileNode]:
    """Apply one file's change to it and its folders; returns the nodes below the root."""
    path = []
    node: FileNode | None = leaf
    size_change = (after.size if after.priority else 0) - (before.size if before.priority else 0)
    done_change = (after.downloaded if after.priority else 0) - (before.downloaded if before.priority else 0)
    while node is not None:
        node.downloaded += after.downloaded - before.downloaded
        node.wanted_size += size_change
        node.wanted_done += done_change
        if node is leaf:
            node.priorities = {after.priority}
        elif before.priority != after.priority:
            node.priorities = set().union(*(child.priorities for child in node.children))
        if node.parent is not None:
            path.append(node)
        node = node.parent
    return path
