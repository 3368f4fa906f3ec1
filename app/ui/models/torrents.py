"""The torrent list: one row per TorrentSnapshot, updated from the bridge's diffs."""

from __future__ import annotations

from enum import IntEnum
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QIcon

from app.engine.snapshots import StopReason, TorrentSnapshot
from app.ui import formatting
from app.ui.label_filter import LabelFilter, matches_labels
from app.ui.models.keyed_table import PAINTED_ROLES, Column, KeyedTableModel
from app.ui.state_filter import StateFilter, look, matches
from app.ui.state_icons import state_icon
from app.ui.torrent_diff import TorrentDiff


class TorrentColumn(IntEnum):
    NAME = 0
    SIZE = 1
    PROGRESS = 2
    STATUS = 3
    SEEDS = 4
    PEERS = 5
    DOWN = 6
    UP = 7
    ETA = 8
    RATIO = 9
    ADDED = 10


def _connected_of_swarm(connected: int, swarm: int | None) -> str:
    return f"{connected} ({swarm})" if swarm is not None else str(connected)


def _connected_sort_key(connected: int, swarm: int | None) -> int:
    # One integer: QSortFilterProxyModel compares plain numbers, not Python tuples.
    return connected * 1_000_000_000 + (swarm or 0)


_COLUMNS: tuple[Column[TorrentSnapshot], ...] = (
    Column("Name", lambda t: t.name, lambda t: t.name.casefold()),
    # As qBittorrent's "Size": what the user wants, skipped files left out.
    Column("Size", lambda t: formatting.size(t.wanted_size), lambda t: t.wanted_size, numeric=True),
    Column(
        "Progress",
        lambda t: formatting.percent(t.progress),
        lambda t: t.progress,
        progress=lambda t: t.progress,
    ),
    Column("Status", lambda t: t.status_text, lambda t: t.status_text),
    Column(
        "Seeds",
        lambda t: _connected_of_swarm(t.seeds, t.swarm_seeds),
        lambda t: _connected_sort_key(t.seeds, t.swarm_seeds),
        numeric=True,
    ),
    Column(
        "Peers",
        lambda t: _connected_of_swarm(t.peers, t.swarm_peers),
        lambda t: _connected_sort_key(t.peers, t.swarm_peers),
        numeric=True,
    ),
    Column("Down", lambda t: formatting.rate(t.down_rate), lambda t: t.down_rate, numeric=True),
    Column("Up", lambda t: formatting.rate(t.up_rate), lambda t: t.up_rate, numeric=True),
    Column(
        "ETA",
        lambda t: formatting.eta(t.eta),
        lambda t: float("inf") if t.eta is None else t.eta,
        numeric=True,
    ),
    Column("Ratio", lambda t: formatting.ratio(t.ratio), lambda t: t.ratio, numeric=True),
    Column("Added on", lambda t: formatting.timestamp(t.added_on), lambda t: t.added_on),
)

_ERROR_TEXT = QColor("#d9534f")

# What a stopped torrent waits for, in the Status column's tooltip.
_WAITS_FOR: dict[StopReason, str] = {
    StopReason.USER: "Start resumes it.",
    StopReason.SEEDING_GOAL: (
        "It has shared as much as its seeding goal asks; raise the goal in Torrent options to seed on."
    ),
    StopReason.NO_SPACE: "It goes on by itself once the disk has room again.",
    StopReason.CHOOSE_FILES: "Choose its files in the Files tab, then Start it.",
    StopReason.QUEUED: "It starts when a place in the queue is free.",
    StopReason.ERROR: "Start tries again; the pieces already verified are kept.",
}


def size_tooltip(torrent: TorrentSnapshot) -> str:
    """'3.0 MiB chosen of 4.0 MiB in all': the total, when skipped files make a difference."""
    chosen, total = formatting.size(torrent.wanted_size), formatting.size(torrent.total_size)
    return f"{chosen} chosen of {total} in all"


def status_tooltip(torrent: TorrentSnapshot) -> str:
    """The status line; what limits the speed most, or for a stopped torrent where it stood
    and what it waits for."""
    if torrent.reason is None:
        why = torrent.why
        return torrent.status_text if why is None else f"{torrent.status_text}\n{why.short}.\n{why.advice}."
    return f"{torrent.status_text}\nStopped while {torrent.state}. {_WAITS_FOR[torrent.reason]}"


def _accepting(category: StateFilter, words: tuple[str, ...]) -> Callable[[TorrentSnapshot], bool]:
    """The row filter, built once per filter change: it runs for each of 10,000 rows."""
    if category == StateFilter.ALL:
        if len(words) == 1:
            word = words[0]
            return lambda t: word in t.name.casefold()
        return lambda t: all(w in t.name.casefold() for w in words)
    return lambda t: matches(category, t) and all(w in t.name.casefold() for w in words)


class TorrentListModel(KeyedTableModel[TorrentSnapshot]):
    """Every torrent of the session; shows those matching the sidebar category and search."""

    kept_roles = PAINTED_ROLES  # every cell is made from its snapshot alone

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(_COLUMNS, lambda t: t.info_hash, parent)
        self._category = StateFilter.ALL
        self._labels = LabelFilter()
        self._words: tuple[str, ...] = ()
        self._accepts: Callable[[TorrentSnapshot], bool] = _accepting(self._category, self._words)
        self._roles[Qt.ItemDataRole.DecorationRole] = self._decoration
        self._roles[Qt.ItemDataRole.ToolTipRole] = self._tooltip
        self._roles[Qt.ItemDataRole.ForegroundRole] = self._foreground

    def apply(self, diff: TorrentDiff) -> None:
        self.update(diff.added + diff.changed, diff.removed)

    @property
    def category(self) -> StateFilter:
        return self._category

    def set_category(self, category: StateFilter) -> None:
        if category != self._category:
            self._category = category
            self._accepts = _accepting(category, self._words)
            self.refilter()

    @property
    def label_filter(self) -> LabelFilter:
        return self._labels

    def set_label_filter(self, chosen: LabelFilter) -> None:
        if chosen != self._labels:
            self._labels = chosen
            self.refilter()

    def set_search_text(self, text: str) -> None:
        words = tuple(text.casefold().split())
        if words != self._words:
            # Typing on narrows the search: only the rows shown can drop out.
            narrowing = all(any(old in new for new in words) for old in self._words)
            self._words = words
            self._accepts = _accepting(self._category, words)
            self.refilter(narrowing=narrowing)

    def filtering(self) -> bool:
        return self._category != StateFilter.ALL or self._labels.active or bool(self._words)

    def accepts(self, item: TorrentSnapshot) -> bool:
        return self._accepts(item) and matches_labels(self._labels, item)

    @staticmethod
    def _decoration(torrent: TorrentSnapshot, column: int) -> QIcon | None:
        return state_icon(look(torrent)) if column == TorrentColumn.NAME else None

    @staticmethod
    def _tooltip(torrent: TorrentSnapshot, column: int) -> str | None:
        if column == TorrentColumn.NAME:
            return torrent.name if not torrent.error else f"{torrent.name}\n{torrent.error}"
        if column == TorrentColumn.STATUS:
            return status_tooltip(torrent)
        if column == TorrentColumn.SIZE and torrent.wanted_size != torrent.total_size:
            return size_tooltip(torrent)
        return None

    @staticmethod
    def _foreground(torrent: TorrentSnapshot, column: int) -> Any:
        if torrent.reason == StopReason.ERROR and column == TorrentColumn.STATUS:
            return _ERROR_TEXT
        return None
