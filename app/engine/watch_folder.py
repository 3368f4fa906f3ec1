"""Watched folders: `.torrent` files that appear in a chosen folder are added by themselves.

`WatchPlan` is the pure part: given a folder's listing (names, sizes, times), it says which
files are ready to add. A file is ready once two scans in a row saw the same size and
modification time: a browser or a copy still writing it changes one or the other. A file
that could not be added nor moved aside is remembered and never tried again while it stays
as it is (no retry loop on a broken file).

`FolderWatcher` is the asyncio poller around it: every few seconds it lists each folder in a
thread, adds the ready files, then moves them to an "added" subfolder (or deletes them), and a
file that is not a torrent to a "failed" subfolder, with a message in plain words. Polling is
portable and cheap at this rate; no file-system notification library is needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from app.engine.errors import EngineError
from app.engine.ticker import Ticker

log = logging.getLogger(__name__)

SUFFIX: Final = ".torrent"
ADDED_FOLDER: Final = "added"
FAILED_FOLDER: Final = "failed"
MAX_TORRENT_FILE: Final = 50 * 1024 * 1024  # larger is not a .torrent anyone made on purpose


class AfterAdd(StrEnum):
    """What becomes of a .torrent file once its torrent is in the list."""

    MOVE = "move"  # to the "added" subfolder
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class WatchedFolder:
    path: Path
    save_path: Path | None = None  # None: the session's download folder
    after: AfterAdd = AfterAdd.MOVE
    category: str = ""  # the category new torrents get ("" none)


@dataclass(frozen=True, slots=True)
class Listed:
    """One .torrent file of a folder's listing."""

    name: str
    size: int
    mtime_ns: int


class WatchPlan:
    """Which files of one folder are ready to add: pure, fed one listing per scan."""

    def __init__(self) -> None:
        self._last: dict[str, Listed] = {}
        self._given_up: dict[str, Listed] = {}

    def ready(self, listing: Iterable[Listed]) -> list[str]:
        """Names seen unchanged since the previous scan, in name order; forgets files gone."""
        now = {entry.name: entry for entry in listing}
        ready = sorted(
            name for name, entry in now.items()
            if self._last.get(name) == entry and entry.size > 0 and self._given_up.get(name) != entry
        )
        self._last = now
        self._given_up = {name: e for name, e in self._given_up.items() if now.get(name) == e}
        return ready

    def give_up(self, name: str) -> None:
        """The file can be neither added nor moved: leave it alone until it changes."""
        entry = self._last.get(name)
        if entry is not None:
            self._given_up[name] = entry


def list_torrent_files(folder: Path) -> list[Listed]:
    """The folder's .torrent files (not its subfolders'); blocking, run it in a thread."""
    listed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.lower().endswith(SUFFIX) and entry.is_file():
                stat = entry.stat()
                listed.append(Listed(entry.name, stat.st_size, stat.st_mtime_ns))
    return listed


def move_into(path: Path, subfolder: str) -> Path:
    """Move a file into `subfolder` beside it, under a free name; blocking."""
    target_dir = path.parent / subfolder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    number = 1
    while target.exists():
        number += 1
        target = target_dir / f"{path.stem} ({number}){path.suffix}"
    os.replace(path, target)
    return target


def read_torrent_file(path: Path) -> bytes:
    """The file's bytes; EngineError if it is too large to be a .torrent. Blocking."""
    if path.stat().st_size > MAX_TORRENT_FILE:
        raise EngineError("it is too large to be a .torrent file")
    return path.read_bytes()


# Adds a torrent from the file's bytes into a watched folder's save path and category.
AddTorrent = Callable[[bytes, WatchedFolder], Awaitable[str]]


class FolderWatcher:
    """Polls the watched folders; `folders()` is asked at every scan, so settings apply at once."""

    def __init__(
        self, folders: Callable[[], Iterable[WatchedFolder]], add: AddTorrent,
        report: Callable[[str], None], interval: float = 3.0,
    ) -> None:
        self._folders = folders
        self._add = add
        self._report = report
        self.interval = interval
        self._plans: dict[Path, WatchPlan] = {}
        self._unreadable: set[Path] = set()
        self._scanning = asyncio.Lock()  # the poller and a caller never scan at once
        self._ticker = Ticker(self.scan, lambda: self.interval, log, "scanning the watched folders failed")

    def start(self) -> None:
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()

    async def scan(self) -> None:
        """One round over every folder (the poller's step; tests call it directly)."""
        async with self._scanning:
            folders = list(self._folders())
            self._plans = {f.path: self._plans.get(f.path) or WatchPlan() for f in folders}
            for folder in folders:
                await self._scan_folder(folder, self._plans[folder.path])

    async def _scan_folder(self, folder: WatchedFolder, plan: WatchPlan) -> None:
        try:
            listing = await asyncio.to_thread(list_torrent_files, folder.path)
        except OSError as exc:
            self._cannot_read(folder.path, exc)
            return
        self._unreadable.discard(folder.path)
        for name in plan.ready(listing):
            if not await self._take(folder, folder.path / name):
                plan.give_up(name)

    def _cannot_read(self, path: Path, exc: OSError) -> None:
        """Said once, not at every scan, until the folder can be read again."""
        if path not in self._unreadable:
            self._unreadable.add(path)
            self._report(f"The watched folder {path} cannot be read: {exc.strerror or exc}.")

    async def _take(self, folder: WatchedFolder, path: Path) -> bool:
        """Add the file and put it away; False if it could not be put away."""
        try:
            data = await asyncio.to_thread(read_torrent_file, path)
            await self._add(data, folder)
        except (EngineError, OSError) as exc:
            return await self._set_aside(path, _reason(exc))
        return await self._put_away(folder, path)

    async def _put_away(self, folder: WatchedFolder, path: Path) -> bool:
        try:
            if folder.after == AfterAdd.DELETE:
                await asyncio.to_thread(path.unlink)
            else:
                await asyncio.to_thread(move_into, path, ADDED_FOLDER)
        except OSError as exc:
            self._report(f"{path.name} was added, but could not be put away: {exc.strerror or exc}.")
            return False
        return True

    async def _set_aside(self, path: Path, reason: str) -> bool:
        try:
            target = await asyncio.to_thread(move_into, path, FAILED_FOLDER)
        except OSError as exc:
            self._report(f"Could not add {path.name} ({reason}), nor move it aside: {exc.strerror or exc}.")
            return False
        self._report(f"Could not add {path.name}: {reason}. It was moved to {target.parent}.")
        return True


def _reason(exc: EngineError | OSError) -> str:
    if isinstance(exc, OSError):
        return f"it cannot be read ({exc.strerror or exc})"
    return str(exc).rstrip(".")
