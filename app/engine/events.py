"""Things that happened, pushed from the session to its listeners (the UI, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TorrentAdded:
    info_hash: str
    name: str


@dataclass(frozen=True, slots=True)
class TorrentRemoved:
    info_hash: str


@dataclass(frozen=True, slots=True)
class TorrentFinished:
    """Every wanted piece is verified on disk."""

    info_hash: str
    name: str


@dataclass(frozen=True, slots=True)
class SeedingGoalReached:
    """The torrent shared as much (ratio) or as long (seeding time) as asked, and is paused."""

    info_hash: str
    name: str


@dataclass(frozen=True, slots=True)
class TorrentErrored:
    info_hash: str
    message: str


@dataclass(frozen=True, slots=True)
class MetadataReceived:
    info_hash: str
    name: str
    choose_files: bool = False  # the torrent is paused until the user has chosen its files


Event = (
    TorrentAdded | TorrentRemoved | TorrentFinished | SeedingGoalReached | TorrentErrored | MetadataReceived
)
