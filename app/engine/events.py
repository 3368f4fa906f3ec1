"""Things that happened, pushed from the session to its listeners (the UI, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.snapshots import StopReason, TorrentState


@dataclass(frozen=True, slots=True)
class TorrentAdded:
    info_hash: str
    name: str


@dataclass(frozen=True, slots=True)
class TorrentRemoved:
    info_hash: str


@dataclass(frozen=True, slots=True)
class StateChanged:
    """A torrent's state or its stop changed: one event per change, with the reason."""

    info_hash: str
    name: str
    state: TorrentState
    reason: StopReason | None  # why it is stopped; None: it runs
    message: str = ""  # the error's plain words, with StopReason.ERROR


@dataclass(frozen=True, slots=True)
class TorrentFinished(StateChanged):
    """The change that made every wanted piece verified on disk: it seeds now."""


@dataclass(frozen=True, slots=True)
class SeedingGoalReached(StateChanged):
    """The change that paused it: it shared as much (ratio) or as long (seeding time) as asked."""


@dataclass(frozen=True, slots=True)
class TorrentErrored(StateChanged):
    """The change that stopped it on an error; `message` says what went wrong."""


@dataclass(frozen=True, slots=True)
class MetadataReceived:
    info_hash: str
    name: str
    choose_files: bool = False  # the torrent is paused until the user has chosen its files


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should read, not tied to one torrent (a watched folder's bad file)."""

    message: str


Event = TorrentAdded | TorrentRemoved | StateChanged | MetadataReceived | Notice
