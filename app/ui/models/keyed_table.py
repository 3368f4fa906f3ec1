"""A sortable, filterable table model over frozen snapshots, each row found by a key.

The key is an info-hash, a peer address or a tracker URL. Updates remove, insert and
change only the rows that differ, one signal per contiguous run; sorting is a layout
change computed with Python's `sorted` (keys computed once per row), which keeps a refresh
tick with 1,000 torrents to a few milliseconds where QSortFilterProxyModel would call
back into Python for every comparison. Each row's sort key is kept beside it: a row that
changed moves by binary search, so a tick with 100 of 10,000 rows changing costs about
100 rows, not a sort of 10,000 (issue 19).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from app.ui.models.roles import ITEM_ROLE, PROGRESS_ROLE, SORT_ROLE
from app.ui.models.runs import contiguous_runs

T = TypeVar("T")
Index = QModelIndex | QPersistentModelIndex


_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_NO_PARENT = QModelIndex()
KEPT_ROWS = 2048  # rows whose painted cells are kept: a few screens' worth
# The roles a view asks for at every paint of a cell that a model answers.
PAINTED_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.DecorationRole,
    Qt.ItemDataRole.ForegroundRole,
})


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    title: str
    text: Callable[[T], str]
    sort_key: Callable[[T], Any]
    numeric: bool = False
    progress: Callable[[T], float] | None = None  # set for a column drawn as a bar


class KeyedTableModel(QAbstractTableModel, Generic[T]):
    # Roles whose values are kept per row, made once per item: only for a model whose cells
    # depend on the item alone (not on the clock, as a tracker's "5 s ago" does).
    kept_roles: frozenset[int] = frozenset()

    def __init__(
        self,
        columns: Sequence[Column[T]],
        key: Callable[[T], Hashable],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._columns = tuple(columns)
        self._key = key
        self._all: dict[Hashable, T] = {}
        self._items: list[T] = []  # the visible rows, in display order
        self._keys: list[Hashable] = []  # their keys, in the same order
        self._sort_keys: list[Any] = []  # their sort keys, in the same order, while sorted
        self._rows: dict[Hashable, int] = {}
        # `kept_roles` of each shown row, made once per snapshot: a view asks for them again at
        # every paint, seven roles per cell (issue 19: scrolling 10,000 rows).
        self._cells: dict[int, tuple[T, dict[int, tuple[Any, ...]]]] = {}
        self._alignments = tuple(_RIGHT if c.numeric else _LEFT for c in self._columns)
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._roles: dict[int, Callable[[T, int], Any]] = {
            Qt.ItemDataRole.DisplayRole: lambda item, col: self._columns[col].text(item),
            Qt.ItemDataRole.TextAlignmentRole: lambda _item, col: self._alignments[col],
            SORT_ROLE: lambda item, col: self._columns[col].sort_key(item),
            ITEM_ROLE: lambda item, _col: item,
            PROGRESS_ROLE: self._progress,
        }

    # Qt overrides

    def rowCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._alignments[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # The view asks for seven roles per cell at each repaint: reject the unused ones first,
        # cheaply; an invalid index has row -1.
        handler = self._roles.get(role)
        if handler is None:
            return None
        row = index.row()
        if not 0 <= row < len(self._items):
            return None
        if role in self.kept_roles:
            return self._painted(self._items[row], role)[index.column()]
        return handler(self._items[row], index.column())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column = column if 0 <= column < len(self._columns) else -1
        self._sort_order = order
        self._reorder()

    # Reading

    def item(self, row: int) -> T:
        return self._items[row]

    def items(self) -> Sequence[T]:
        return self._items

    def all_items(self) -> Iterable[T]:
        """Every item, shown or filtered out."""
        return self._all.values()

    def get(self, key: Hashable) -> T | None:
        return self._all.get(key)

    def row_of(self, key: Hashable) -> int | None:
        return self._rows.get(key)

    def accepts(self, item: T) -> bool:
        """Whether a row is shown; subclasses filter by overriding this and `filtering`."""
        return True

    def filtering(self) -> bool:
        """False while every item is shown."""
        return False

    # Updating

    def set_items(self, items: Iterable[T]) -> None:
        """Make the rows equal to `items`, touching only the rows that differ."""
        new = {self._key(item): item for item in items}
        self.update(new.values(), [k for k in self._all if k not in new])

    def update(self, upserts: Iterable[T], removed: Iterable[Hashable] = ()) -> None:
        """Add or replace `upserts`, drop `removed`; one signal per run of rows."""
        upserts = list(upserts)
        removed_keys = set(removed)
        for key in removed_keys:
            self._all.pop(key, None)
        for item in upserts:
            self._all[self._key(item)] = item
        # Without a filter every item is shown: skip the per-item `accepts` calls.
        accepts = self.accepts if self.filtering() else None
        if accepts is not None:
            removed_keys |= {self._key(i) for i in upserts if not accepts(i)}
        self._remove_rows(removed_keys)
        changed = self._change_rows(i for i in upserts if self._key(i) in self._rows)
        added = [i for i in upserts if self._key(i) not in self._rows and (accepts is None or accepts(i))]
        self._append_rows(added)
        if added:
            self._reorder()
        else:
            self._move_changed(changed)

    def refilter(self, *, narrowing: bool = False) -> None:
        """Re-apply `accepts` after the filter changed; `narrowing`: it can only hide rows."""
        accepts = self.accepts
        self._remove_rows([self._key(item) for item in self._items if not accepts(item)])
        if not narrowing:
            rows = self._rows
            self._append_rows([i for k, i in self._all.items() if k not in rows and accepts(i)])
        self._reorder()

    def clear(self) -> None:
        self.beginResetModel()
        self._all.clear()
        self._items.clear()
        self._keys.clear()
        self._sort_keys.clear()
        self._rows.clear()
        self._cells.clear()
        self.endResetModel()

    # Row bookkeeping

    def _remove_rows(self, keys: Iterable[Hashable]) -> None:
        rows = [self._rows[k] for k in keys if k in self._rows]
        if not rows:
            return
        for first, last in reversed(contiguous_runs(rows)):
            self.beginRemoveRows(_NO_PARENT, first, last)
            del self._items[first : last + 1]
            del self._keys[first : last + 1]
            del self._sort_keys[first : last + 1]
            self.endRemoveRows()
        self._reindex()

    def _append_rows(self, items: Sequence[T]) -> None:
        if not items:
            return
        first = len(self._items)
        self.beginInsertRows(_NO_PARENT, first, first + len(items) - 1)
        self._items.extend(items)
        self._keys.extend(map(self._key, items))
        self._sort_keys.clear()  # _reorder() sorts them in
        self._reindex()
        self.endInsertRows()

    def _change_rows(self, items: Iterable[T]) -> list[int]:
        """Replace the rows that differ; their rows, to move if their sort key changed."""
        touched = []
        for item in items:
            row = self._rows[self._key(item)]
            if self._items[row] != item:
                self._items[row] = item
                touched.append(row)
        last_column = len(self._columns) - 1
        for first, last in contiguous_runs(touched):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        return touched

    def _move_changed(self, rows: list[int]) -> None:
        """Put the changed rows back in sort order: the rows whose sort key changed are taken
        out (the others stay sorted) and put back in by binary search."""
        if self._sort_column < 0 or len(self._sort_keys) != len(self._items):
            self._reorder()
            return
        sort_key = self._columns[self._sort_column].sort_key
        moved = [(row, key) for row in rows if (key := sort_key(self._items[row])) != self._sort_keys[row]]
        if not moved:
            return
        items, keys, sort_keys = list(self._items), list(self._keys), list(self._sort_keys)
        taken = [(items[row], keys[row], key) for row, key in moved]
        for row, _ in sorted(moved, reverse=True):
            del items[row], keys[row], sort_keys[row]
        for item, key, new_key in taken:
            at = _insertion_point(sort_keys, new_key, self._descending())
            items.insert(at, item)
            keys.insert(at, key)
            sort_keys.insert(at, new_key)
        self._sort_keys = sort_keys
        if keys != self._keys:
            self._relayout(items, keys)

    def _relayout(self, items: list[T], keys: list[Hashable]) -> None:
        """The rows in a new order: the view's selection and current row follow their items."""
        self.layoutAboutToBeChanged.emit()
        old_keys = self._keys
        self._items, self._keys = items, keys
        self._reindex()
        persistent = self.persistentIndexList()
        moved = [self.index(self._rows[old_keys[i.row()]], i.column()) for i in persistent]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _descending(self) -> bool:
        return self._sort_order == Qt.SortOrder.DescendingOrder

    def _reorder(self) -> None:
        if self._sort_column < 0:
            self._sort_keys = []
            return
        sort_key = self._columns[self._sort_column].sort_key
        sort_keys = list(map(sort_key, self._items))
        # Stable: rows that tie keep their place instead of jittering at each tick.
        order = sorted(range(len(self._items)), key=sort_keys.__getitem__, reverse=self._descending())
        if len(order) < 2:
            self._sort_keys = sort_keys
            return
        pick = itemgetter(*order)  # the lists in the new order, at C speed
        self._sort_keys = list(pick(sort_keys))
        if order != list(range(len(order))):
            self._relayout(list(pick(self._items)), list(pick(self._keys)))

    def _reindex(self) -> None:
        self._rows = dict(zip(self._keys, range(len(self._keys))))

    def _painted(self, item: T, role: int) -> tuple[Any, ...]:
        """The row's value of `role` in each column, made on first use."""
        made = self._cells.get(id(item))
        if made is None or made[0] is not item:  # `is`: the entry of an item replaced since
            if len(self._cells) >= KEPT_ROWS:
                self._cells.clear()  # old versions and rows scrolled past go; the shown come back
            made = self._cells[id(item)] = (item, {})
        values = made[1].get(role)
        if values is None:
            handler = self._roles[role]
            values = made[1][role] = tuple(handler(item, column) for column in range(len(self._columns)))
        return values

    def _progress(self, item: T, column: int) -> float | None:
        progress = self._columns[column].progress
        return None if progress is None else progress(item)


def _insertion_point(keys: list[Any], key: Any, descending: bool) -> int:
    """Where `key` goes in `keys` (sorted, descending or not): after the keys equal to it."""
    low, high = 0, len(keys)
    while low < high:
        middle = (low + high) // 2
        before = key > keys[middle] if descending else key < keys[middle]
        if before:
            high = middle
        else:
            low = middle + 1
    return low
