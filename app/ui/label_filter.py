"""The sidebar's categories and tags: which torrents each entry shows, and how many there are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from app.engine.snapshots import TorrentSnapshot

UNLABELLED = ""  # the entry for torrents with no category ("Uncategorized") or no tag ("Untagged")


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """None: any; UNLABELLED: those without; else that category or tag."""

    category: str | None = None
    tag: str | None = None

    @property
    def active(self) -> bool:
        return self.category is not None or self.tag is not None


def matches_labels(chosen: LabelFilter, torrent: TorrentSnapshot) -> bool:
    category_ok = chosen.category is None or torrent.category == chosen.category
    if chosen.tag is None:
        return category_ok
    tag_ok = not torrent.tags if chosen.tag == UNLABELLED else chosen.tag in torrent.tags
    return category_ok and tag_ok


def _tag_keys(torrent: TorrentSnapshot) -> tuple[str, ...]:
    return torrent.tags or (UNLABELLED,)


class LabelCounts:
    """Torrents per category and per tag, kept up to date from diffs, not recounted."""

    def __init__(self) -> None:
        self.total = 0
        self.categories: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()

    def update(self, before: Iterable[TorrentSnapshot], after: Iterable[TorrentSnapshot]) -> None:
        """`before`: the old snapshots of what changed or left; `after`: what changed or came."""
        for sign, torrents in ((-1, before), (1, after)):
            for torrent in torrents:
                self.total += sign
                self.categories[torrent.category] += sign
                for tag in _tag_keys(torrent):
                    self.tags[tag] += sign
