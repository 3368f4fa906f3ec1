"""What the UI sees: frozen, self-contained pictures of the engine's state (DESIGN rule 3).

`Session.snapshot()` is cheap enough to call twice a second with 10,000 torrents: it carries
one `TorrentSnapshot` per torrent and no per-piece or per-peer data, and rebuilds only those
that may have changed; `Session.changes(since)` names the ones that did (`TorrentChanges`). The details of one
torrent (peers, files, pieces, availability) come from `Session.details(info_hash)`, which
the UI asks for only for the selected torrent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from app.engine.portmap.status import MapState, PortMapStatus

if TYPE_CHECKING:
    from app.engine.diagnosis import Cause
    from app.engine.labels import Category
    from app.engine.torrent_options import TorrentOptions


class TorrentState(StrEnum):
    """Where a torrent stands, whether it runs or not (libtorrent's `torrent_status::state`).

    Stopped is not a state: it is the `StopReason` beside it, as libtorrent keeps the paused
    flag apart. A paused torrent that was seeding still says SEEDING.
    """

    CHECKING = "checking"
    METADATA = "downloading metadata"
    DOWNLOADING = "downloading"
    SEEDING = "seeding"


class StopReason(StrEnum):
    """Why a torrent is not running, in the words of the status line (short: it is a column)."""

    USER = "Paused"
    SEEDING_GOAL = "Seeding goal reached"
    NO_SPACE = "Waiting for disk space"
    CHOOSE_FILES = "Waiting for the file choice"
    QUEUED = "Queued"
    ERROR = "Error"


# What the user decided, kept across restarts (the store's `paused` column); the others are
# the engine's own and clear themselves: the queue moves, the disk frees, an error is retried.
USER_STOPS = frozenset({StopReason.USER, StopReason.SEEDING_GOAL, StopReason.CHOOSE_FILES})


@dataclass(frozen=True, slots=True)
class StateChange:
    """A torrent's state after one change, and why it is stopped (None: it runs)."""

    state: TorrentState
    reason: StopReason | None = None
    message: str = ""  # the error's plain words, with StopReason.ERROR

    @property
    def paused(self) -> bool:
        return self.reason is not None


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
    transport: str = "TCP"  # or "uTP" (BEP 29)
    note: str = ""  # why a web seed is backed off or dropped, "" if all is well
    taken_over: int = 0  # a web seed's blocks that came in before a slow peer's copy (its request cancelled)

    @property
    def is_web_seed(self) -> bool:
        """A BEP 19 web seed's row: its address is its URL."""
        return "://" in self.address


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
    reason: StopReason | None = None  # why it is stopped; None while it runs
    category: str = ""  # the user's category, "" none
    tags: tuple[str, ...] = ()  # the user's tags, sorted
    why: Cause | None = None  # what limits the speed most right now (app/engine/diagnosis.py)

    @property
    def paused(self) -> bool:
        """Stopped, for whatever reason (the queue and an error too); `state` says where it stands."""
        return self.reason is not None


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
    causes: tuple[Cause, ...] = ()  # what limits the speed, the strongest first
    format: str = ""  # "v1", "v2" or "hybrid" (BEP 52); "" until the metadata is known
    info_hash_v1: str = ""  # hex; "" for a v2-only torrent
    info_hash_v2: str = ""  # hex of the full SHA-256 (BEP 52); "" for a v1 torrent


@dataclass(frozen=True, slots=True)
class SessionSnapshot:
    torrents: tuple[TorrentSnapshot, ...]
    down_rate: float
    up_rate: float
    peers: int
    dht_nodes: int
    listen_port: int | None
    blocked_connections: int = 0  # refused by the IP filter or a ban, both ways, since start
    ip_filter: str = ""  # what the loaded block list holds, in plain words ("" for none)
    port_mapping: PortMapStatus = PortMapStatus()  # what the router was asked, and what it said
    incoming_connections: int = 0  # peers that reached us since the start: proof we are reachable
    categories: tuple[Category, ...] = ()  # every category, with its save folder, even empty ones
    tags: tuple[str, ...] = ()  # every known tag, even those no torrent carries

    @property
    def reachability(self) -> str:
        """One plain sentence: can peers on the internet reach this client?"""
        if self.incoming_connections:
            plural = "s" if self.incoming_connections != 1 else ""
            where = self.port_mapping.external_address
            return f"Reachable: {self.incoming_connections} incoming connection{plural}" + (
                f" ({where})" if where and self.port_mapping.state == MapState.MAPPED else "")
        return self.port_mapping.summary


@dataclass(frozen=True, slots=True)
class TorrentChanges:
    """The torrents whose snapshot changed after revision `since`, up to `revision`.

    `complete`: `torrents` holds every torrent of the session, and a torrent the reader knows
    that is not among them was removed (the first read, or one older than the removals kept).
    """

    revision: int
    torrents: tuple[TorrentSnapshot, ...]
    removed: tuple[str, ...] = ()
    complete: bool = False
