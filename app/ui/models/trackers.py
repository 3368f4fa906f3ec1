"""The Trackers tab: one row per announce URL of the selected torrent."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt

from app.engine.snapshots import TrackerSnapshot
from app.ui import formatting
from app.ui.models.keyed_table import Column, KeyedTableModel


def _next_announce(tracker: TrackerSnapshot) -> str:
    if tracker.next_announce is None:
        return ""
    return formatting.duration(max(0.0, tracker.next_announce))


_COLUMNS: tuple[Column[TrackerSnapshot], ...] = (
    Column("URL", lambda t: t.url, lambda t: t.url),
    Column("Tier", lambda t: str(t.tier), lambda t: t.tier, numeric=True),
    Column("Status", lambda t: t.status, lambda t: t.status),
    Column("Seeds", lambda t: formatting.count(t.seeds), lambda t: t.seeds or 0, numeric=True),
    Column("Peers", lambda t: formatting.count(t.peers), lambda t: t.peers or 0, numeric=True),
    Column(
        "Next announce",
        _next_announce,
        lambda t: float("inf") if t.next_announce is None else t.next_announce,
        numeric=True,
    ),
    Column(
        "Last announce",
        lambda t: formatting.ago(t.last_announce, time.time()),
        lambda t: t.last_announce or 0.0,
    ),
    Column("Message", lambda t: t.message, lambda t: t.message),
)


class TrackerModel(KeyedTableModel[TrackerSnapshot]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(_COLUMNS, lambda t: t.url, parent)
        self._roles[Qt.ItemDataRole.ToolTipRole] = lambda t, _col: t.message or t.url
