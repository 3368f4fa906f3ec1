"""What the UI sees: frozen, self-contained pictures of the engine's state (DESIGN rule 3).

`Session.snapshot()` is cheap enough to call twice a second with 1,000 torrents: it carries
one `TorrentSnapshot` per torrent and no per-piece or per-peer data. The details of one
torrent (peers, files, pieces, availability) come from `Session.details(info_hash)`, which
the UI asks for only for the selected torrent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.engine.torrent_options import TorrentOptions


class TorrentState(StrEnum):
    CHECKING = "checking"
    METADATA = "downloading metadata"
    DOWNLOADING = "downloading"
    SEEDING = "seeding"
    PAUSED = "paused"
    QUEUED = "queued"
    ERROR = "error"


class PieceState(IntEnum):
    """One byte per piece in `TorrentDetails.pieces`."""

    MISSING = 0
    REQUESTED = 1  # at least one block in flight or received
    WRITING = 2  # complete in memory: being hashed and written
    VERIFIED = 3  # hash checked and on disk
    FAILED = 4  # failed its hash check recently (the UI flashes it)


@dataclass(frozen=True, slots=True)
class TrackerSnapshot:
    url: str
    tier: int
    status: str  # "not contacted", "announcing", "working", "error"
    message: str  # last failure reason or warning, "" if none
    seeds: int | None
    peers: int | None
    next_announce: float | None  # seconds from the snapshot's time, None if none planned
    last_announce: float | None  # wall-clock time.time() of the last answer


@dataclass(frozen=True, slots=True)
class PeerSnapshot:
    address: str  # "127.0.0.2:6881" or "[::1]:6881"
    client: str  # decoded from the peer id, e.g. "libtorrent 2.1.1"
    flags: str  # qBittorrent-style letters: D d U u K ? I E X H P S O
    progress: float  # 0.0 .. 1.0 of the pieces the peer has
    down_rate: float  # bytes/s from the peer
    up_rate: float  # bytes/s to the peer
    downloaded: int
    uploaded: int
    incoming: bool
    encrypted: bool = False  # MSE/PE with RC4: the whole stream is encrypted


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    path: str  # relative, "/"-separated, including the torrent's folder for multi-file torrents
    size: int
    downloaded: int  # verified bytes in this file
    priority: int  # 0 skip, 1 normal, 2 high
    padding: bool = False  # a BEP 47 pad file: never on disk, not the user's business

    @property
    def progress(self) -> float:
        return 1.0 if self.size == 0 else self.downloaded / self.size


@dataclass(frozen=True, slots=True)
class TorrentSnapshot:
    info_hash: str  # 40 hex digits: the key everywhere in the UI
    name: str
    state: TorrentState
    progress: float  # verified bytes of the wanted files / their size (skipped files left out)
    total_size: int
    wanted_size: int  # the bytes the user wants: total_size less the skipped files
    verified_bytes: int
    downloaded: int  # payload bytes received this session (including wasted)
    uploaded: int  # payload bytes sent this session
    down_rate: float
    up_rate: float
    peers: int  # connected peers that are not seeds
    seeds: int  # connected seeds
    swarm_peers: int | None  # from the trackers' counts, None if unknown
    swarm_seeds: int | None
    eta: float | None  # seconds, None if not downloading or unknown
    ratio: float
    num_pieces: int
    piece_length: int
    save_path: str
    added_on: float  # time.time()
    trackers: tuple[TrackerSnapshot, ...]
    error: str  # plain words, "" if none
    status_text: str  # one line for the status column, e.g. "Downloading", "Tracker: timed out"


@dataclass(frozen=True, slots=True)
class TorrentDetails:
    info_hash: str
    peers: tuple[PeerSnapshot, ...]
    files: tuple[FileSnapshot, ...]
    pieces: bytes  # one PieceState value per piece
    availability: bytes  # per piece: how many connected peers have it, capped at 255
    time_active: float  # seconds
    comment: str
    private: bool
    options: TorrentOptions  # the torrent's own: file priorities, sequential, limits, seeding goal
    seeding_time: float  # seconds spent seeding, across restarts


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    torrents: tuple[TorrentSnapshot, ...]
    down_rate: float
    up_rate: float
    peers: int
    dht_nodes: int
    listen_port: int | None
