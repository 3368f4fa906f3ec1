"""The latest snapshot of every torrent, and the revision at which each last changed.

The UI asks "what changed since revision N?" and gets only those torrents: with 10,000
torrents and 100 of them moving, a refresh costs 100, not 10,000 (issue 19; libtorrent's
`post_torrent_updates` hands out "only the torrents whose state changed since last time").
Several readers (the window, the RPC server) each keep their own revision.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from app.engine.snapshots import TorrentChanges, TorrentSnapshot

REMOVALS_KEPT: Final = 4096  # a reader further behind than this many removals gets the whole list


class SnapshotBook:
    def __init__(self, removals_kept: int = REMOVALS_KEPT) -> None:
        self.revision = 0
        self._latest: dict[str, TorrentSnapshot] = {}
        self._changed_at: dict[str, int] = {}  # in revision order: a changed torrent moves to the end
        self._removed: deque[tuple[int, str]] = deque(maxlen=removals_kept)
        self._forgotten = 0  # the newest revision whose removal fell off the log

    def __len__(self) -> int:
        return len(self._latest)

    def __contains__(self, info_hash: str) -> bool:
        return info_hash in self._latest

    def hashes(self) -> list[str]:
        return list(self._latest)

    def get(self, info_hash: str) -> TorrentSnapshot | None:
        return self._latest.get(info_hash)

    def torrents(self) -> tuple[TorrentSnapshot, ...]:
        return tuple(self._latest.values())

    def record(self, snapshot: TorrentSnapshot) -> bool:
        """Keep the torrent's newest snapshot; True if it differs from the one kept."""
        key = snapshot.info_hash
        before = self._latest.get(key)
        if before is snapshot or before == snapshot:
            return False
        self.revision += 1
        self._latest[key] = snapshot
        self._changed_at.pop(key, None)
        self._changed_at[key] = self.revision
        return True

    def forget(self, info_hash: str) -> None:
        if self._latest.pop(info_hash, None) is None:
            return
        del self._changed_at[info_hash]
        self.revision += 1
        if len(self._removed) == self._removed.maxlen:
            self._forgotten = self._removed[0][0]
        self._removed.append((self.revision, info_hash))

    def since(self, revision: int) -> TorrentChanges:
        """What changed after `revision` (0: everything, as a complete list)."""
        if revision <= 0 or revision < self._forgotten or revision > self.revision:
            return TorrentChanges(self.revision, self.torrents(), complete=True)
        changed = []
        for key, at in reversed(self._changed_at.items()):
            if at <= revision:
                break
            changed.append(self._latest[key])
        removed = []
        for at, key in reversed(self._removed):
            if at <= revision:
                break
            removed.append(key)
        return TorrentChanges(self.revision, tuple(reversed(changed)), tuple(reversed(removed)))
