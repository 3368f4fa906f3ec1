"""The sidebar's categories: which torrents each one shows, and how many there are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from enum import Enum

from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState

_ACTIVE_DOWNLOAD = frozenset(
    {TorrentState.DOWNLOADING, TorrentState.METADATA, TorrentState.CHECKING, StopReason.QUEUED}
)
# Stopped, and staying so until the user (or free disk space) starts it again.
_PAUSED = frozenset({StopReason.USER, StopReason.SEEDING_GOAL, StopReason.NO_SPACE, StopReason.CHOOSE_FILES})

# What a row shows first: where the torrent stands, or why it is stopped.
Look = TorrentState | StopReason

# What a category looks at: where the torrent stands or why it is stopped, and whether every
# piece is there.
Kind = tuple[Look, bool]


class StateFilter(Enum):
    ALL = "All"
    DOWNLOADING = "Downloading"
    SEEDING = "Seeding"
    COMPLETED = "Completed"
    PAUSED = "Paused"
    ERROR = "Error"


_MATCHES: dict[StateFilter, Callable[[Look, bool], bool]] = {
    StateFilter.ALL: lambda state, complete: True,
    StateFilter.DOWNLOADING: lambda state, complete: state in _ACTIVE_DOWNLOAD and not complete,
    StateFilter.SEEDING: lambda state, complete: state == TorrentState.SEEDING,
    StateFilter.COMPLETED: lambda state, complete: complete,
    StateFilter.PAUSED: lambda state, complete: state in _PAUSED,
    StateFilter.ERROR: lambda state, complete: state == StopReason.ERROR,
}


def look(torrent: TorrentSnapshot) -> Look:
    return torrent.reason if torrent.reason is not None else torrent.state


def kind(torrent: TorrentSnapshot) -> Kind:
    return look(torrent), torrent.progress >= 1.0


def matches(category: StateFilter, torrent: TorrentSnapshot) -> bool:
    return _MATCHES[category](*kind(torrent))


class FilterCounts:
    """How many torrents each category holds, kept up to date from diffs, not recounted."""

    def __init__(self) -> None:
        self._kinds: Counter[Kind] = Counter()

    def update(self, before: Iterable[TorrentSnapshot], after: Iterable[TorrentSnapshot]) -> None:
        """`before`: the old snapshots of what changed or left; `after`: what changed or came."""
        self._kinds.subtract(kind(t) for t in before)
        self._kinds.update(kind(t) for t in after)

    def counts(self) -> dict[StateFilter, int]:
        return {
            category: sum(
                n for (state, complete), n in self._kinds.items() if match(state, complete)
            )
            for category, match in _MATCHES.items()
        }
