"""The window's snapshots built from torrent-get answers (RPC spec 3.3), and the events a
change between two polls means (pure: the answers and `now` in, frozen dataclasses out).

Piecemeal's own fields (`piecemeal-state` ...) make the picture exact when the daemon is
Piecemeal; without them (a Transmission daemon) the Transmission fields give a close one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from app.engine.events import (
    Event, MetadataReceived, SeedingGoalReached, TorrentAdded, TorrentErrored, TorrentFinished, TorrentRemoved,
)
from app.engine.labels import Category
from app.engine.snapshots import (
    FileSnapshot, PeerSnapshot, PieceState, SessionSnapshot, StopReason, TorrentDetails, TorrentSnapshot, TorrentState,
    TrackerSnapshot,
)
from app.engine.torrent_options import HIGH, NORMAL, SKIP, TorrentOptions
from app.rpc.fields import (
    CHECK, CHECK_WAIT, DOWNLOAD, DOWNLOAD_WAIT, PIECEMEAL, SEED, SEED_WAIT, STOPPED,
)
from app.rpc.settings import KB

Row = Mapping[str, Any]

# What the list needs, asked for every torrent at every poll.
LIST_FIELDS: Final = (
    "hashString", "name", "status", "error", "errorString", "percentDone", "totalSize", "sizeWhenDone",
    "haveValid", "downloadedEver", "uploadedEver", "rateDownload", "rateUpload", "peersConnected", "eta",
    "uploadRatio", "pieceCount", "pieceSize", "downloadDir", "addedDate", "trackerStats",
    "metadataPercentComplete", "labels", PIECEMEAL + "state", PIECEMEAL + "stop-reason", PIECEMEAL + "status-text",
    PIECEMEAL + "seeds", PIECEMEAL + "ratio", PIECEMEAL + "category",
)
# What the details tabs need, asked for the selected torrent only.
DETAIL_FIELDS: Final = (
    "hashString", "pieceCount", "peers", "files", "fileStats", "pieces", "availability", "secondsDownloading",
    "secondsSeeding", "isPrivate", "comment", "downloadLimit", "downloadLimited", "uploadLimit",
    "uploadLimited", "seedRatioLimit", "seedRatioMode", "sequentialDownload", PIECEMEAL + "piece-states",
    PIECEMEAL + "file-padding", PIECEMEAL + "seed-time-limit",
)
SESSION_FIELDS: Final = ("peer-port", "version", PIECEMEAL + "categories", PIECEMEAL + "tags")

# tr_torrent_activity -> where a torrent stands (None: from percentDone), and why it is stopped
_STATES: Final[dict[int, tuple[TorrentState | None, StopReason | None]]] = {
    STOPPED: (None, StopReason.USER), CHECK_WAIT: (TorrentState.CHECKING, None), CHECK: (TorrentState.CHECKING, None),
    DOWNLOAD_WAIT: (TorrentState.DOWNLOADING, StopReason.QUEUED), DOWNLOAD: (TorrentState.DOWNLOADING, None),
    SEED_WAIT: (TorrentState.SEEDING, StopReason.QUEUED), SEED: (TorrentState.SEEDING, None),
}

_STATUS_WORDS: Final = {TorrentState.METADATA: "Downloading metadata"}


def torrent_state(row: Row) -> tuple[TorrentState, StopReason | None]:
    """Ours if the daemon says it; else from Transmission's tr_torrent_activity, error and progress."""
    try:
        state = TorrentState(row.get(PIECEMEAL + "state"))
        reason = row.get(PIECEMEAL + "stop-reason")
        return state, None if reason is None else StopReason(reason)
    except ValueError:
        pass
    state, reason = _STATES.get(row.get("status", STOPPED), (None, StopReason.USER))
    if state is None:
        state = TorrentState.SEEDING if row.get("percentDone", 0.0) >= 1.0 else TorrentState.DOWNLOADING
    if reason == StopReason.USER and row.get("error"):
        reason = StopReason.ERROR
    if state == TorrentState.DOWNLOADING and row.get("metadataPercentComplete", 1.0) < 1.0:
        state = TorrentState.METADATA
    return state, reason


def torrent_snapshot(row: Row, now: float) -> TorrentSnapshot:
    state, reason = torrent_state(row)
    connected = int(row.get("peersConnected", 0))
    seeds = int(row.get(PIECEMEAL + "seeds", 0))
    trackers = tuple(tracker_snapshot(stat, now) for stat in row.get("trackerStats", ()))
    return TorrentSnapshot(
        info_hash=str(row["hashString"]).lower(),
        name=str(row.get("name", "")),
        state=state,
        progress=float(row.get("percentDone", 0.0)),
        total_size=int(row.get("totalSize", 0)),
        wanted_size=int(row.get("sizeWhenDone", 0)),
        verified_bytes=int(row.get("haveValid", 0)),
        downloaded=int(row.get("downloadedEver", 0)),
        uploaded=int(row.get("uploadedEver", 0)),
        down_rate=float(row.get("rateDownload", 0)),
        up_rate=float(row.get("rateUpload", 0)),
        peers=max(0, connected - seeds),
        seeds=seeds,
        swarm_peers=_most((t.peers for t in trackers)),
        swarm_seeds=_most((t.seeds for t in trackers)),
        eta=float(row["eta"]) if row.get("eta", -1) >= 0 else None,
        ratio=float(row.get(PIECEMEAL + "ratio", max(0.0, float(row.get("uploadRatio", 0.0))))),
        num_pieces=int(row.get("pieceCount", 0)),
        piece_length=int(row.get("pieceSize", 0)),
        save_path=str(row.get("downloadDir", "")),
        added_on=float(row.get("addedDate", 0)),
        trackers=trackers,
        error=str(row.get("errorString", "")),
        status_text=str(row.get(PIECEMEAL + "status-text") or _status_text(state, reason, row)),
        reason=reason,
        category=str(row.get(PIECEMEAL + "category", "")),
        tags=tuple(sorted(str(label) for label in row.get("labels", ()) if label != row.get(PIECEMEAL + "category"))),
    )


def _status_text(state: TorrentState, reason: StopReason | None, row: Row) -> str:
    if reason == StopReason.ERROR:
        return f"Error: {row.get('errorString', '')}"
    return reason.value if reason is not None else _STATUS_WORDS.get(state, state.value.capitalize())


def _most(counts: Any) -> int | None:
    known = [count for count in counts if count is not None]
    return max(known) if known else None


def tracker_snapshot(stat: Row, now: float) -> TrackerSnapshot:
    """trackerStats (RPC spec 3.3): tr_tracker_state 3 is "announcing" now."""
    announced = bool(stat.get("hasAnnounced"))
    result = str(stat.get("lastAnnounceResult", ""))
    next_at = int(stat.get("nextAnnounceTime", 0))
    last_at = int(stat.get("lastAnnounceTime", 0))
    return TrackerSnapshot(
        url=str(stat.get("announce", "")),
        tier=int(stat.get("tier", 0)),
        status=_tracker_status(stat, announced),
        message="" if result == "Success" else result,
        seeds=_count(stat.get("seederCount", -1)),
        peers=_count(stat.get("leecherCount", -1)),
        next_announce=max(0.0, next_at - now) if next_at > 0 else None,
        last_announce=float(last_at) if last_at > 0 else None,
    )


def _tracker_status(stat: Row, announced: bool) -> str:
    if stat.get("announceState") == 3:
        return "announcing"
    if stat.get("lastAnnounceSucceeded"):
        return "working"
    return "error" if announced else "not contacted"


def _count(value: Any) -> int | None:
    return None if value is None or int(value) < 0 else int(value)


def session_snapshot(torrents: Sequence[TorrentSnapshot], listen_port: int | None, labels: Row) -> SessionSnapshot:
    """The session's totals from its torrents' (the daemon's DHT is not visible over RPC: 0 nodes);
    `labels`: session-get's piecemeal-categories and piecemeal-tags, if the daemon has them."""
    return SessionSnapshot(
        categories=tuple(Category(str(c["name"]), str(c.get("save-path", "")))
                         for c in labels.get(PIECEMEAL + "categories", ())),
        tags=tuple(str(tag) for tag in labels.get(PIECEMEAL + "tags", ())),
        torrents=tuple(torrents),
        down_rate=sum(t.down_rate for t in torrents),
        up_rate=sum(t.up_rate for t in torrents),
        peers=sum(t.peers + t.seeds for t in torrents),
        dht_nodes=0,
        listen_port=listen_port,
    )


# details


def torrent_details(row: Row) -> TorrentDetails:
    files = file_snapshots(row)
    pieces = piece_states(row)
    seeding = float(row.get("secondsSeeding", 0))
    return TorrentDetails(
        info_hash=str(row["hashString"]).lower(),
        peers=tuple(peer_snapshot(peer) for peer in row.get("peers", ())),
        files=files,
        pieces=pieces,
        availability=bytes(min(255, max(0, int(n))) for n in row.get("availability", ())[: len(pieces)]),
        time_active=float(row.get("secondsDownloading", 0)) + seeding,
        comment=str(row.get("comment", "")),
        private=bool(row.get("isPrivate", False)),
        options=torrent_options(row, files),
        seeding_time=seeding,
    )


def file_snapshots(row: Row) -> tuple[FileSnapshot, ...]:
    stats = row.get("fileStats", ())
    padding = row.get(PIECEMEAL + "file-padding", ())
    return tuple(
        FileSnapshot(
            path=str(entry.get("name", "")),
            size=int(entry.get("length", 0)),
            downloaded=int(entry.get("bytesCompleted", 0)),
            priority=_priority(stats[index]) if index < len(stats) else NORMAL,
            padding=bool(padding[index]) if index < len(padding) else False,
        )
        for index, entry in enumerate(row.get("files", ()))
    )


def _priority(stat: Row) -> int:
    """Transmission's `wanted` and tr_priority_t (1 high) -> ours: 0 skip, 1 normal, 2 high."""
    if not stat.get("wanted", True):
        return SKIP
    return HIGH if stat.get("priority", 0) > 0 else NORMAL


def piece_states(row: Row) -> bytes:
    """Ours, one PieceState a piece, if the daemon says it; else Transmission's bitfield of
    verified pieces (high bit first), the others missing."""
    try:
        ours = row.get(PIECEMEAL + "piece-states")
        if ours is not None:
            return base64.b64decode(ours, validate=True)
        bits = base64.b64decode(row.get("pieces", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        return b""
    count = min(int(row.get("pieceCount", len(bits) * 8)), len(bits) * 8)
    return bytes(
        PieceState.VERIFIED if bits[index >> 3] & (0x80 >> (index & 7)) else PieceState.MISSING
        for index in range(count)
    )


def peer_snapshot(peer: Row) -> PeerSnapshot:
    host, port = str(peer.get("address", "")), int(peer.get("port", 0))
    return PeerSnapshot(
        address=f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        client=str(peer.get("clientName", "")),
        flags=str(peer.get("flagStr", "")),
        progress=float(peer.get("progress", 0.0)),
        down_rate=float(peer.get("rateToClient", 0)),
        up_rate=float(peer.get("rateToPeer", 0)),
        downloaded=int(peer.get(PIECEMEAL + "downloaded", 0)),
        uploaded=int(peer.get(PIECEMEAL + "uploaded", 0)),
        incoming=bool(peer.get("isIncoming", False)),
        encrypted=bool(peer.get("isEncrypted", False)),
        transport="uTP" if peer.get("isUTP") else "TCP",
    )


def torrent_options(row: Row, files: Sequence[FileSnapshot]) -> TorrentOptions:
    priorities = tuple(f.priority for f in files)
    return TorrentOptions(
        file_priorities=priorities if any(p != NORMAL for p in priorities) else (),
        sequential=bool(row.get("sequentialDownload", False)),
        down_limit=int(row.get("downloadLimit", 0)) * KB if row.get("downloadLimited") else 0,
        up_limit=int(row.get("uploadLimit", 0)) * KB if row.get("uploadLimited") else 0,
        ratio_limit=_RATIO_GOALS.get(int(row.get("seedRatioMode", 0)), lambda r: None)(row),
        seed_time_limit=row.get(PIECEMEAL + "seed-time-limit"),
    )


# tr_ratiolimit: 0 the session's goal (None here), 1 the torrent's own, 2 never stop (0 here)
_RATIO_GOALS: Final[dict[int, Callable[[Row], float | None]]] = {
    0: lambda row: None,
    1: lambda row: float(row.get("seedRatioLimit", 0.0)),
    2: lambda row: 0.0,
}


# events


def changes(before: Mapping[str, TorrentSnapshot], after: Mapping[str, TorrentSnapshot]) -> list[Event]:
    """What happened between two polls, as the local session would have said it."""
    found: list[Event] = [TorrentRemoved(info_hash) for info_hash in before.keys() - after.keys()]
    for info_hash, new in after.items():
        old = before.get(info_hash)
        if old is None:
            found.append(TorrentAdded(info_hash, new.name))
            continue
        found += [event for check in _CHECKS if (event := check(old, new)) is not None]
    return found


def _finished(old: TorrentSnapshot, new: TorrentSnapshot) -> Event | None:
    # A recheck that finds the files whole is not a download that finished.
    done = new.progress >= 1.0 > old.progress and TorrentState.CHECKING not in (old.state, new.state)
    return TorrentFinished(new.info_hash, new.name, new.state, new.reason) if done else None


def _errored(old: TorrentSnapshot, new: TorrentSnapshot) -> Event | None:
    if new.error and new.error != old.error:
        return TorrentErrored(new.info_hash, new.name, new.state, new.reason, new.error)
    return None


def _goal_reached(old: TorrentSnapshot, new: TorrentSnapshot) -> Event | None:
    if new.reason == StopReason.SEEDING_GOAL != old.reason:
        return SeedingGoalReached(new.info_hash, new.name, new.state, new.reason)
    return None


def _metadata(old: TorrentSnapshot, new: TorrentSnapshot) -> Event | None:
    return MetadataReceived(new.info_hash, new.name) if new.num_pieces and not old.num_pieces else None


_CHECKS: Final = (_finished, _errored, _goal_reached, _metadata)
