"""The sidebar's categories: which torrents each one shows, and how many there are."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from app.engine.snapshots import TorrentSnapshot, TorrentState

_ACTIVE_DOWNLOAD = frozenset(
    {TorrentState.DOWNLOADING, TorrentState.METADATA, TorrentState.CHECKING, TorrentState.QUEUED}
)


class StateFilter(Enum):
    ALL = "All"
    DOWNLOADING = "Downloading"
    SEEDING = "Seeding"
    COMPLETED = "Completed"
    PAUSED = "Paused"
    ERROR = "Error"


_MATCHES: dict[StateFilter, Callable[[TorrentSnapshot], bool]] = {
    StateFilter.ALL: lambda t: True,
    StateFilter.DOWNLOADING: lambda t: t.state in _ACTIVE_DOWNLOAD and t.progress < 1.0,
    StateFilter.SEEDING: lambda t: t.state == TorrentState.SEEDING,
    StateFilter.COMPLETED: lambda t: t.progress >= 1.0,
    StateFilter.PAUSED: lambda t: t.state == TorrentState.PAUSED,
    StateFilter.ERROR: lambda t: t.state == TorrentState.ERROR,
}


def matches(category: StateFilter, torrent: TorrentSnapshot) -> bool:
    return _MATCHES[category](torrent)


def count_by_filter(torrents: Iterable[TorrentSnapshot]) -> dict[StateFilter, int]:
    counts = dict.fromkeys(StateFilter, 0)
    for torrent in torrents:
        for category, match in _MATCHES.items():
            counts[category] += match(torrent)
    return counts
