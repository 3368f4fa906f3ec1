"""Transmission's `labels` (RPC spec 3.3, torrent-get; 3.2, torrent-set) for our category and tags.

Transmission has labels only. A client shows them as a list of words, so the category is
shown first among them, then the tags: a torrent in "Films" tagged "hd" has the labels
["Films", "hd"]. Coming back, a label that names one of the session's categories sets the
category (the first such label), the others are the tags; no such label clears it. A client
that adds or removes one label therefore keeps the rest as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.engine.snapshots import TorrentSnapshot


@dataclass(frozen=True, slots=True)
class LabelChoice:
    category: str
    tags: tuple[str, ...]


def labels_of(snap: TorrentSnapshot) -> list[str]:
    tags = [tag for tag in snap.tags if tag != snap.category]
    return [snap.category, *tags] if snap.category else tags


def split_labels(labels: Sequence[str], categories: Iterable[str]) -> LabelChoice:
    known = set(categories)
    category = next((label for label in labels if label in known), "")
    return LabelChoice(category, tuple(label for label in labels if label != category))
