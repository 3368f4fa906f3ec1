"""Categories and tags: how the user sorts torrents.

A torrent has at most one category and any number of tags. A category has its own save
folder: a torrent added in it is saved there (qBittorrent's rule). The session's list of
categories and of known tags lives in the store's settings, so an empty category or a tag
no torrent carries yet still shows in the sidebar and the menus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from app.engine.errors import EngineError

MAX_NAME: Final = 64
# Transmission's RPC joins labels with commas in some clients: a name must not hold one.
_FORBIDDEN: Final = frozenset(",\n\r\t")


@dataclass(frozen=True, slots=True)
class Labels:
    """One torrent's category ("" none) and tags (sorted, no repeats)."""

    category: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    save_path: str = ""  # "" : the session's download folder


def clean_name(text: str, what: str = "name") -> str:
    """The name as stored: trimmed; EngineError with a sentence if it cannot be one."""
    name = " ".join(text.split())
    if not name:
        raise EngineError(f"A {what} needs a name.")
    if len(name) > MAX_NAME:
        raise EngineError(f"A {what} name can have at most {MAX_NAME} characters.")
    if _FORBIDDEN & set(name):
        raise EngineError(f"A {what} name cannot contain a comma.")
    return name


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({clean_name(tag, "tag") for tag in tags}, key=str.casefold))


class LabelBook:
    """The session's categories (with their folders) and known tags."""

    def __init__(self) -> None:
        self._categories: dict[str, Category] = {}
        self._tags: set[str] = set()

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(sorted(self._categories.values(), key=lambda c: c.name.casefold()))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(sorted(self._tags, key=str.casefold))

    def add_category(self, name: str, save_path: str = "") -> Category:
        """Add or change one; the same name again sets its folder."""
        category = Category(clean_name(name, "category"), save_path.strip())
        self._categories[category.name] = category
        return category

    def remove_category(self, name: str) -> None:
        self._categories.pop(name, None)

    def add_tags(self, tags: Iterable[str]) -> tuple[str, ...]:
        cleaned = clean_tags(tags)
        self._tags.update(cleaned)
        return cleaned

    def save_path(self, category: str, default: Path) -> Path:
        """Where a new torrent of `category` is saved: its folder, else the default."""
        known = self._categories.get(category)
        return Path(known.save_path) if known is not None and known.save_path else default

    def check_category(self, name: str) -> str:
        """"" or a known category; EngineError for an unknown one."""
        if name and name not in self._categories:
            raise EngineError(f"There is no category named '{name}'.")
        return name

    def to_setting(self) -> dict[str, Any]:
        return {
            "categories": {c.name: c.save_path for c in self._categories.values()},
            "tags": sorted(self._tags),
        }

    def load(self, setting: Mapping[str, Any] | None) -> None:
        """From the store's setting; a damaged entry is skipped, not fatal."""
        if not isinstance(setting, Mapping):
            return
        for name, folder in dict(setting.get("categories") or {}).items():
            try:
                self.add_category(str(name), str(folder))
            except EngineError:
                continue
        for tag in setting.get("tags") or ():
            try:
                self.add_tags([str(tag)])
            except EngineError:
                continue
