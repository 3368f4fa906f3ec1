"""The session's side of categories and tags: the book of names, each torrent's labels, the store."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from app.engine.errors import StorageError
from app.engine.labels import Labels, LabelBook, clean_name, clean_tags

if TYPE_CHECKING:
    from app.engine.session import Session
    from app.engine.store import TorrentRecord
    from app.engine.torrent import Torrent

log = logging.getLogger(__name__)

SETTING: Final = "labels"  # the store's settings key for the book


class LabelControls:
    """One per session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.book = LabelBook()

    def load(self) -> None:
        if self._session.store is not None:
            self.book.load(self._session.store.get_setting(SETTING))

    def restore(self, torrent: Torrent, record: TorrentRecord) -> None:
        """A stored torrent's labels; a category missing from the book is put back in it."""
        if record.category and record.category not in {c.name for c in self.book.categories}:
            self.book.add_category(record.category)
        torrent.labels = Labels(record.category, self.book.add_tags(record.tags))

    def save_path(self, category: str, default: Path) -> Path:
        return self.book.save_path(self.book.check_category(category), default)

    def add_category(self, name: str, save_path: str) -> None:
        self.book.add_category(name, save_path)
        self._save_book()

    def remove_category(self, name: str) -> None:
        """The category goes; its torrents stay, without a category."""
        self.book.remove_category(name)
        for torrent in self._session.torrents.values():
            if torrent.labels.category == name:
                self.set_category(torrent, "")
        self._save_book()

    def set_category(self, torrent: Torrent, name: str) -> None:
        """Only the label changes: the files stay where they are (move them with move_storage)."""
        name = self.book.check_category(clean_name(name, "category") if name else "")
        torrent.labels = replace(torrent.labels, category=name)
        self._update(torrent, category=name)

    def set_tags(self, torrent: Torrent, tags: tuple[str, ...] | list[str]) -> None:
        """The torrent's whole set of tags; new ones join the book."""
        cleaned = clean_tags(tags)
        if set(cleaned) - set(self.book.tags):
            self.book.add_tags(cleaned)
            self._save_book()
        torrent.labels = replace(torrent.labels, tags=cleaned)
        self._update(torrent, tags=cleaned)

    def _update(self, torrent: Torrent, **changes: object) -> None:
        store = self._session.store
        if store is None:
            return
        try:
            store.update_torrent(torrent.info_hash, **changes)
        except (StorageError, KeyError) as exc:
            log.warning("could not save the labels of %s: %s", torrent.name, exc)

    def _save_book(self) -> None:
        if self._session.store is not None:
            self._session.store.set_setting(SETTING, self.book.to_setting())
