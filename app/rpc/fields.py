"""torrent-get's fields (RPC spec 3.3), each built from a torrent's snapshot and details (pure).

`FIELDS` maps a field name to a function of a `TorrentView`. Fields that need the torrent's
details (peers, files, pieces) are listed in `DETAIL_FIELDS`, so a request that asks only for
the list's columns never pays for them. Transmission's units: rates in bytes per second,
limits in kB/s (1000 bytes), times in seconds since the epoch, ratios -1 when not known.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from app.engine.snapshots import (
    PeerSnapshot, PieceState, StopReason, TorrentDetails, TorrentSnapshot, TorrentState, TrackerSnapshot,
)
from app.rpc.labels import labels_of
from app.rpc.settings import KB

# tr_torrent_activity (RPC spec 3.3, `status`)
STOPPED, CHECK_WAIT, CHECK, DOWNLOAD_WAIT, DOWNLOAD, SEED_WAIT, SEED = range(7)
ETA_NOT_AVAILABLE: Final = -1  # TR_ETA_NOT_AVAIL
ETA_UNKNOWN: Final = -2  # TR_ETA_UNKNOWN
RATIO_NOT_AVAILABLE: Final = -1  # TR_RATIO_NA
RATIO_INFINITE: Final = -2  # TR_RATIO_INF
LOCAL_ERROR: Final = 3  # TR_STAT_LOCAL_ERROR: "error" is a number, errorString the words
OCTET_STREAM: Final = "application/octet-stream"
DEFAULT_TORRENT_LIMIT: Final = 100  # kB/s shown for a torrent whose limit was never set
# Piecemeal's own fields (the window's remote session reads them) carry this prefix; other
# Transmission clients ignore names they do not know.
PIECEMEAL: Final = "piecemeal-"


@dataclass(frozen=True, slots=True)
class TorrentView:
    """What one torrent's fields are built from."""

    id: int
    queue_position: int
    snapshot: TorrentSnapshot
    details: TorrentDetails | None  # present when a DETAIL_FIELDS field was asked for
    magnet_link: str
    peer_limit: int
    remembered_limits: tuple[int, int] = (DEFAULT_TORRENT_LIMIT, DEFAULT_TORRENT_LIMIT)  # kB/s, when unlimited


def status(snap: TorrentSnapshot) -> int:
    if snap.reason == StopReason.QUEUED:
        return SEED_WAIT if snap.progress >= 1.0 else DOWNLOAD_WAIT
    return STOPPED if snap.paused else _STATUS[snap.state]


_STATUS: Final = {  # a running torrent's
    TorrentState.CHECKING: CHECK,
    TorrentState.METADATA: DOWNLOAD,
    TorrentState.DOWNLOADING: DOWNLOAD,
    TorrentState.SEEDING: SEED,
}


def left_until_done(snap: TorrentSnapshot) -> int:
    if snap.progress >= 1.0:
        return 0
    return max(0, round(snap.wanted_size * (1.0 - snap.progress)))


def eta(snap: TorrentSnapshot) -> int:
    if snap.eta is not None:
        return int(snap.eta)
    downloading = not snap.paused and snap.state in (TorrentState.DOWNLOADING, TorrentState.METADATA)
    return ETA_UNKNOWN if downloading else ETA_NOT_AVAILABLE


def upload_ratio(snap: TorrentSnapshot) -> float:
    """tr_getRatio: uploaded over downloaded (or over what we have, for a torrent we seed from disk)."""
    base = snap.downloaded or snap.verified_bytes
    if base:
        return snap.uploaded / base
    return RATIO_INFINITE if snap.uploaded else RATIO_NOT_AVAILABLE


def pieces_bitfield(details: TorrentDetails) -> str:
    """RPC spec 3.3 `pieces`: a bitfield of the verified pieces, high bit first, in base64."""
    bits = bytearray((len(details.pieces) + 7) // 8)
    for index, state in enumerate(details.pieces):
        if state == PieceState.VERIFIED:
            bits[index >> 3] |= 0x80 >> (index & 7)
    return base64.b64encode(bytes(bits)).decode("ascii")


def availability(details: TorrentDetails) -> list[int]:
    """Per piece, how many connected peers have it, -1 for a piece we have."""
    return [-1 if state == PieceState.VERIFIED else count for state, count in zip(details.pieces, details.availability)]


def _details(view: TorrentView) -> TorrentDetails:
    assert view.details is not None, "a detail field was built without the details"
    return view.details


# files (RPC spec 3.3: `files`, `fileStats`, `priorities`, `wanted`)


def files(view: TorrentView) -> list[dict[str, Any]]:
    return [{"bytesCompleted": f.downloaded, "length": f.size, "name": f.path} for f in _details(view).files]


def file_stats(view: TorrentView) -> list[dict[str, Any]]:
    return [
        {"bytesCompleted": f.downloaded, "wanted": f.priority != 0, "priority": _tr_priority(f.priority)}
        for f in _details(view).files
    ]


def primary_mime_type(view: TorrentView) -> str:
    """The MIME type that holds the most bytes, guessed from the file names (as Transmission does)."""
    sizes: dict[str, int] = {}
    for entry in _details(view).files:
        if not entry.padding:
            kind = mimetypes.guess_type(entry.path, strict=False)[0] or OCTET_STREAM
            sizes[kind] = sizes.get(kind, 0) + entry.size
    return max(sizes, key=lambda kind: sizes[kind]) if sizes else OCTET_STREAM


def _tr_priority(priority: int) -> int:
    """Ours: 0 skip, 1 normal, 2 high. tr_priority_t: -1 low, 0 normal, 1 high (skip is `wanted`)."""
    return 1 if priority == 2 else 0


# peers (RPC spec 3.3: `peers`)


def peer(entry: PeerSnapshot) -> dict[str, Any]:
    host, _, port = entry.address.rpartition(":")
    flags = entry.flags
    return {
        "address": host.strip("[]"),
        "port": int(port) if port.isdigit() else 0,
        "clientName": entry.client,
        "flagStr": flags.replace(" ", ""),
        "progress": entry.progress,
        "rateToClient": int(entry.down_rate),
        "rateToPeer": int(entry.up_rate),
        "isIncoming": entry.incoming,
        "isDownloadingFrom": "D" in flags,
        "isUploadingTo": "U" in flags,
        "clientIsChoked": "D" not in flags,  # qBittorrent's letters: D we download from it, U we upload
        "clientIsInterested": "D" in flags or "d" in flags,
        "peerIsChoked": "U" not in flags,
        "peerIsInterested": "U" in flags or "u" in flags,
        "isEncrypted": "E" in flags,
        "isUTP": "P" in flags,
        PIECEMEAL + "downloaded": entry.downloaded,
        PIECEMEAL + "uploaded": entry.uploaded,
    }


def peers(view: TorrentView) -> list[dict[str, Any]]:
    return [peer(p) for p in _details(view).peers if not p.is_web_seed]


def web_seeds(view: TorrentView) -> list[PeerSnapshot]:
    """The BEP 19 web seeds in use: Transmission lists them apart from the peers."""
    return [p for p in _details(view).peers if p.is_web_seed]


# trackers (RPC spec 3.3: `trackers`, `trackerStats`)

_ANNOUNCE_STATE: Final = {"not contacted": 1, "announcing": 3, "working": 1, "error": 1}  # tr_tracker_state


def trackers(view: TorrentView) -> list[dict[str, Any]]:
    return [
        {"announce": t.url, "id": index, "scrape": "", "sitename": _sitename(t.url), "tier": t.tier}
        for index, t in enumerate(view.snapshot.trackers)
    ]


def tracker_stats(view: TorrentView) -> list[dict[str, Any]]:
    return [_tracker_stat(index, t, view.snapshot.added_on) for index, t in enumerate(view.snapshot.trackers)]


def _tracker_stat(index: int, t: TrackerSnapshot, added_on: float) -> dict[str, Any]:
    announced = t.last_announce is not None
    next_at = int((t.last_announce or added_on) + t.next_announce) if t.next_announce is not None else 0
    return {
        "id": index, "announce": t.url, "scrape": "", "host": _host(t.url), "sitename": _sitename(t.url),
        "tier": t.tier, "isBackup": False, "announceState": _ANNOUNCE_STATE.get(t.status, 0),
        "scrapeState": 0, "hasAnnounced": announced, "hasScraped": False,
        "lastAnnounceSucceeded": t.status == "working", "lastAnnounceResult": t.message or ("Success" if announced else ""),
        "lastAnnounceTime": int(t.last_announce or 0), "lastAnnounceStartTime": int(t.last_announce or 0),
        "lastAnnounceTimedOut": "timed out" in t.message, "lastAnnouncePeerCount": 0,
        "nextAnnounceTime": next_at, "seederCount": _count(t.seeds), "leecherCount": _count(t.peers),
        "downloadCount": -1, "lastScrapeSucceeded": False, "lastScrapeResult": "", "lastScrapeTime": 0,
        "lastScrapeStartTime": 0, "lastScrapeTimedOut": False, "nextScrapeTime": 0,
    }


def _count(value: int | None) -> int:
    return -1 if value is None else value


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _sitename(url: str) -> str:
    host = urlsplit(url).hostname or ""
    labels = host.split(".")
    return labels[-2] if len(labels) >= 2 and not host.replace(".", "").isdigit() else host


def tracker_list(view: TorrentView) -> str:
    """Announce URLs one per line, a blank line between tiers (RPC spec 3.3 `trackerList`)."""
    tiers: dict[int, list[str]] = {}
    for t in view.snapshot.trackers:
        tiers.setdefault(t.tier, []).append(t.url)
    return "\n\n".join("\n".join(urls) for _, urls in sorted(tiers.items()))


# limits and seeding goals


def _limit(view: TorrentView, which: int) -> tuple[int, bool]:
    details = _details(view)
    rate = (details.options.down_limit, details.options.up_limit)[which]
    return (round(rate / KB), True) if rate else (view.remembered_limits[which], False)


def seed_ratio_mode(view: TorrentView) -> int:
    """tr_ratiolimit: 0 the session's goal, 1 the torrent's own, 2 unlimited."""
    goal = _details(view).options.ratio_limit
    return 0 if goal is None else (2 if goal == 0 else 1)


def _peers_flagged(view: TorrentView, letter: str) -> int:
    """Connected peers with this flag letter; without peers, no details are needed (a list of 1,000)."""
    if not view.snapshot.peers + view.snapshot.seeds:
        return 0
    return sum(1 for p in _details(view).peers if letter in p.flags and not p.is_web_seed)


Builder = Callable[[TorrentView], Any]


def _snap(name: str) -> Builder:
    return lambda view: getattr(view.snapshot, name)


FIELDS: Final[dict[str, Builder]] = {
    "id": lambda v: v.id,
    "hashString": _snap("info_hash"),
    "name": _snap("name"),
    "status": lambda v: status(v.snapshot),
    "error": lambda v: LOCAL_ERROR if v.snapshot.error else 0,
    "errorString": _snap("error"),
    "percentDone": _snap("progress"),
    "percentComplete": lambda v: v.snapshot.verified_bytes / v.snapshot.total_size if v.snapshot.total_size else 0.0,
    "metadataPercentComplete": lambda v: 1.0 if v.snapshot.num_pieces else 0.0,
    "recheckProgress": lambda v: 0.0,
    "rateDownload": lambda v: int(v.snapshot.down_rate),
    "rateUpload": lambda v: int(v.snapshot.up_rate),
    "eta": lambda v: eta(v.snapshot),
    "etaIdle": lambda v: ETA_NOT_AVAILABLE,
    "totalSize": _snap("total_size"),
    "sizeWhenDone": _snap("wanted_size"),
    "leftUntilDone": lambda v: left_until_done(v.snapshot),
    "haveValid": _snap("verified_bytes"),
    "haveUnchecked": lambda v: 0,
    "corruptEver": lambda v: 0,
    "downloadedEver": _snap("downloaded"),
    "uploadedEver": _snap("uploaded"),
    "uploadRatio": lambda v: upload_ratio(v.snapshot),
    "peersConnected": lambda v: v.snapshot.peers + v.snapshot.seeds,
    "peersSendingToUs": lambda v: _peers_flagged(v, "D"),
    "peersGettingFromUs": lambda v: _peers_flagged(v, "U"),
    "webseedsSendingToUs": lambda v: sum(1 for p in web_seeds(v) if "D" in p.flags),
    "webseeds": lambda v: [p.address for p in web_seeds(v)],
    "peers": peers,
    "files": files,
    "fileStats": file_stats,
    "file-count": lambda v: len(_details(v).files),
    "primary-mime-type": primary_mime_type,
    "priorities": lambda v: [_tr_priority(f.priority) for f in _details(v).files],
    "wanted": lambda v: [int(f.priority != 0) for f in _details(v).files],  # 0/1, as 3.00 and 4.0.2+ send
    "trackers": trackers,
    "trackerStats": tracker_stats,
    "trackerList": tracker_list,
    "pieces": lambda v: pieces_bitfield(_details(v)),
    "pieceCount": _snap("num_pieces"),
    "pieceSize": _snap("piece_length"),
    "availability": lambda v: availability(_details(v)),
    "downloadDir": _snap("save_path"),
    "addedDate": lambda v: int(v.snapshot.added_on),
    "startDate": lambda v: 0,
    "activityDate": lambda v: 0,
    "doneDate": lambda v: 0,
    "editDate": lambda v: 0,
    "dateCreated": lambda v: 0,
    "secondsDownloading": lambda v: int(_details(v).time_active - _details(v).seeding_time),
    "secondsSeeding": lambda v: int(_details(v).seeding_time),
    "isFinished": lambda v: v.snapshot.reason == StopReason.SEEDING_GOAL,  # tr_stat: met its seed ratio
    "isStalled": lambda v: False,
    "isPrivate": lambda v: _details(v).private,
    "comment": lambda v: _details(v).comment,
    "creator": lambda v: "",
    "magnetLink": lambda v: v.magnet_link,
    "queuePosition": lambda v: v.queue_position,
    "labels": lambda v: labels_of(v.snapshot),
    "group": lambda v: "",
    "bandwidthPriority": lambda v: 0,
    "honorsSessionLimits": lambda v: True,
    "downloadLimit": lambda v: _limit(v, 0)[0],
    "downloadLimited": lambda v: _limit(v, 0)[1],
    "uploadLimit": lambda v: _limit(v, 1)[0],
    "uploadLimited": lambda v: _limit(v, 1)[1],
    "seedRatioLimit": lambda v: _details(v).options.ratio_limit or 0.0,
    "seedRatioMode": seed_ratio_mode,
    "seedIdleLimit": lambda v: 0,
    "seedIdleMode": lambda v: 0,
    "sequentialDownload": lambda v: _details(v).options.sequential,
    "peer-limit": lambda v: v.peer_limit,
    "maxConnectedPeers": lambda v: v.peer_limit,
    "desiredAvailable": lambda v: 0,
    "manualAnnounceTime": lambda v: 0,
    "torrentFile": lambda v: "",
    PIECEMEAL + "state": lambda v: v.snapshot.state.value,
    PIECEMEAL + "stop-reason": lambda v: v.snapshot.reason.value if v.snapshot.reason else None,
    PIECEMEAL + "category": _snap("category"),
    PIECEMEAL + "status-text": _snap("status_text"),
    PIECEMEAL + "seeds": _snap("seeds"),
    PIECEMEAL + "ratio": _snap("ratio"),
    PIECEMEAL + "piece-states": lambda v: base64.b64encode(_details(v).pieces).decode("ascii"),
    PIECEMEAL + "file-padding": lambda v: [f.padding for f in _details(v).files],
    PIECEMEAL + "seed-time-limit": lambda v: _details(v).options.seed_time_limit,
}

# Fields that read the torrent's details (built only when one of them is asked for).
DETAIL_FIELDS: Final = frozenset({
    "peers", "files", "fileStats", "file-count", "primary-mime-type", "priorities",
    "wanted", "pieces", "availability", "secondsDownloading", "secondsSeeding", "isPrivate", "comment",
    "downloadLimit", "downloadLimited", "uploadLimit", "uploadLimited", "seedRatioLimit", "seedRatioMode",
    "sequentialDownload", "webseeds", "webseedsSendingToUs",
    PIECEMEAL + "piece-states", PIECEMEAL + "file-padding", PIECEMEAL + "seed-time-limit",
})


PEER_COUNT_FIELDS: Final = frozenset({"peersSendingToUs", "peersGettingFromUs"})  # details only with peers


def needs_details(names: list[str], snap: TorrentSnapshot) -> bool:
    if not DETAIL_FIELDS.isdisjoint(names):
        return True
    return bool(snap.peers + snap.seeds) and not PEER_COUNT_FIELDS.isdisjoint(names)


def build(view: TorrentView, names: list[str]) -> dict[str, Any]:
    """The asked-for fields that we know; unknown names are left out, as Transmission does."""
    return {name: FIELDS[name](view) for name in names if name in FIELDS}
