"""What changed between two session snapshots, keyed by info-hash (DESIGN rule 3).

Like libtorrent's "only the torrents whose state changed since last time", the models
and views then touch only those rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.engine.snapshots import TorrentChanges, TorrentSnapshot


@dataclass(frozen=True, slots=True)
class TorrentDiff:
    added: tuple[TorrentSnapshot, ...] = ()
    changed: tuple[TorrentSnapshot, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def diff_torrents(
    old: Mapping[str, TorrentSnapshot], new: Iterable[TorrentSnapshot]
) -> TorrentDiff:
    added: list[TorrentSnapshot] = []
    changed: list[TorrentSnapshot] = []
    seen: set[str] = set()
    for snap in new:
        seen.add(snap.info_hash)
        before = old.get(snap.info_hash)
        if before is None:
            added.append(snap)
        elif before is not snap and before != snap:
            changed.append(snap)
    removed = tuple(h for h in old if h not in seen)
    return TorrentDiff(tuple(added), tuple(changed), removed)


def diff_changes(old: Mapping[str, TorrentSnapshot], changes: TorrentChanges) -> TorrentDiff:
    """The diff from the rows shown (`old`) and what the session says changed since."""
    if changes.complete:
        return diff_torrents(old, changes.torrents)
    added = tuple(t for t in changes.torrents if t.info_hash not in old)
    changed = tuple(t for t in changes.torrents if t.info_hash in old and old[t.info_hash] != t)
    return TorrentDiff(added, changed, tuple(h for h in changes.removed if h in old))
