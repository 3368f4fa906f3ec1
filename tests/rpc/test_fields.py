"""app/rpc/fields.py: torrent-get's values in Transmission's units, from hand-made snapshots."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from app.engine.snapshots import (
    FileSnapshot, PeerSnapshot, PieceState, StopReason, TorrentDetails, TorrentSnapshot, TorrentState, TrackerSnapshot,
)
from app.engine.torrent_options import TorrentOptions
from app.rpc import fields

V, M = PieceState.VERIFIED, PieceState.MISSING


def snapshot(**changes: object) -> TorrentSnapshot:
    base = TorrentSnapshot(
        info_hash="ab" * 20, name="demo", state=TorrentState.DOWNLOADING, progress=0.25, total_size=4000,
        wanted_size=4000, verified_bytes=1000, downloaded=1000, uploaded=500, down_rate=1234.7, up_rate=10.2,
        peers=2, seeds=1, swarm_peers=None, swarm_seeds=None, eta=30.6, ratio=0.5, num_pieces=10,
        piece_length=400, save_path="/data", added_on=1700000000.9,
        trackers=(TrackerSnapshot("http://tracker.example.org:6969/announce", 0, "working", "", 5, 7, 1800.0, 1700000100.0),
                  TrackerSnapshot("udp://backup.example.net:80", 1, "error", "timed out", None, None, None, None)),
        error="", status_text="Downloading",
    )
    return replace(base, **changes)


def details(**changes: object) -> TorrentDetails:
    base = TorrentDetails(
        info_hash="ab" * 20,
        peers=(PeerSnapshot("127.0.0.2:6881", "libtorrent 2.0", "D I", 1.0, 1000.0, 0.0, 10, 0, True),
               PeerSnapshot("[::1]:51413", "Transmission 4.0", "U", 0.5, 0.0, 20.0, 0, 5, False)),
        files=(FileSnapshot("demo/a", 3000, 1000, 1), FileSnapshot("demo/b", 900, 0, 0), FileSnapshot("demo/c", 100, 0, 2)),
        pieces=bytes([V, M, V, M, M, M, M, M, M, V]), availability=bytes([0, 2, 1, 0, 0, 0, 0, 0, 0, 3]),
        time_active=100.0, comment="hi", private=True, options=TorrentOptions(down_limit=50_000), seeding_time=40.0,
    )
    return replace(base, **changes)


def view(snap: TorrentSnapshot | None = None, detail: TorrentDetails | None = None) -> fields.TorrentView:
    return fields.TorrentView(1, 0, snap or snapshot(), detail or details(), "magnet:?xt=urn:btih:" + "ab" * 20, 50)


@pytest.mark.parametrize(
    ("state", "reason", "progress", "status"),
    [(TorrentState.DOWNLOADING, StopReason.USER, 0.5, 0), (TorrentState.DOWNLOADING, StopReason.ERROR, 0.5, 0),
     (TorrentState.SEEDING, StopReason.SEEDING_GOAL, 1.0, 0), (TorrentState.CHECKING, None, 0.5, 2),
     (TorrentState.DOWNLOADING, StopReason.QUEUED, 0.5, 3), (TorrentState.DOWNLOADING, None, 0.5, 4),
     (TorrentState.METADATA, None, 0.0, 4), (TorrentState.SEEDING, StopReason.QUEUED, 1.0, 5),
     (TorrentState.SEEDING, None, 1.0, 6)],
)
def test_status_numbers_are_transmissions(
    state: TorrentState, reason: StopReason | None, progress: float, status: int
) -> None:
    assert fields.status(snapshot(state=state, reason=reason, progress=progress)) == status


def test_finished_is_a_reached_seeding_goal() -> None:
    goal = snapshot(state=TorrentState.SEEDING, reason=StopReason.SEEDING_GOAL, progress=1.0)
    paused = snapshot(state=TorrentState.SEEDING, reason=StopReason.USER, progress=1.0)
    assert [fields.build(view(s), ["isFinished"])["isFinished"] for s in (goal, paused)] == [True, False]


def test_the_list_columns() -> None:
    row = fields.build(view(), ["id", "hashString", "name", "status", "percentDone", "rateDownload", "rateUpload",
                                "eta", "sizeWhenDone", "leftUntilDone", "uploadRatio", "peersConnected", "addedDate",
                                "error", "errorString", "downloadDir", "isFinished", "queuePosition", "labels"])
    assert row == {"id": 1, "hashString": "ab" * 20, "name": "demo", "status": 4, "percentDone": 0.25,
                   "rateDownload": 1234, "rateUpload": 10, "eta": 30, "sizeWhenDone": 4000, "leftUntilDone": 3000,
                   "uploadRatio": 0.5, "peersConnected": 3, "addedDate": 1700000000, "error": 0, "errorString": "",
                   "downloadDir": "/data", "isFinished": False, "queuePosition": 0, "labels": []}


def test_unknown_fields_are_left_out() -> None:
    assert fields.build(view(), ["name", "noSuchField"]) == {"name": "demo"}


def test_eta_and_ratio_use_transmissions_special_values() -> None:
    assert fields.eta(snapshot(eta=None)) == fields.ETA_UNKNOWN
    assert fields.eta(snapshot(eta=None, state=TorrentState.SEEDING)) == fields.ETA_NOT_AVAILABLE
    assert fields.upload_ratio(snapshot(downloaded=0, verified_bytes=0, uploaded=0)) == fields.RATIO_NOT_AVAILABLE
    assert fields.upload_ratio(snapshot(downloaded=0, verified_bytes=0, uploaded=5)) == fields.RATIO_INFINITE
    assert fields.left_until_done(snapshot(progress=1.0)) == 0


def test_an_error_is_a_local_error_with_its_words() -> None:
    row = fields.build(view(snapshot(error="disk full", reason=StopReason.ERROR)), ["error", "errorString", "status"])
    assert row == {"error": 3, "errorString": "disk full", "status": 0}


def test_pieces_are_a_base64_bitfield_high_bit_first() -> None:
    bits = base64.b64decode(fields.build(view(), ["pieces"])["pieces"])
    assert bits == bytes([0b10100000, 0b01000000])
    assert fields.availability(details()) == [-1, 2, -1, 0, 0, 0, 0, 0, 0, -1]


def test_files_and_their_stats() -> None:
    row = fields.build(view(), ["files", "fileStats", "priorities", "wanted", "file-count"])
    assert row["files"][0] == {"bytesCompleted": 1000, "length": 3000, "name": "demo/a"}
    assert row["fileStats"] == [{"bytesCompleted": 1000, "wanted": True, "priority": 0},
                                {"bytesCompleted": 0, "wanted": False, "priority": 0},
                                {"bytesCompleted": 0, "wanted": True, "priority": 1}]
    assert (row["priorities"], row["wanted"], row["file-count"]) == ([0, 0, 1], [1, 0, 1], 3)


def test_peers() -> None:
    row = fields.build(view(), ["peers", "peersSendingToUs", "peersGettingFromUs"])
    first, second = row["peers"]
    assert (first["address"], first["port"], first["isDownloadingFrom"], first["isIncoming"]) == ("127.0.0.2", 6881, True, True)
    assert (second["address"], second["port"], second["isUploadingTo"], second["rateToPeer"]) == ("::1", 51413, True, 20)
    assert (row["peersSendingToUs"], row["peersGettingFromUs"]) == (1, 1)


def test_trackers_and_their_stats() -> None:
    row = fields.build(view(), ["trackers", "trackerStats", "trackerList"])
    assert row["trackers"][0] == {"announce": "http://tracker.example.org:6969/announce", "id": 0, "scrape": "",
                                  "sitename": "example", "tier": 0}
    working, failing = row["trackerStats"]
    assert (working["seederCount"], working["leecherCount"], working["lastAnnounceSucceeded"]) == (5, 7, True)
    assert working["nextAnnounceTime"] == 1700000100 + 1800
    assert (failing["seederCount"], failing["lastAnnounceResult"], failing["lastAnnounceTimedOut"]) == (-1, "timed out", True)
    assert row["trackerList"] == "http://tracker.example.org:6969/announce\n\nudp://backup.example.net:80"


def test_limits_in_kilobytes_and_the_remembered_one_when_off() -> None:
    row = fields.build(view(), ["downloadLimit", "downloadLimited", "uploadLimit", "uploadLimited", "seedRatioMode"])
    assert row == {"downloadLimit": 50, "downloadLimited": True, "uploadLimit": fields.DEFAULT_TORRENT_LIMIT,
                   "uploadLimited": False, "seedRatioMode": 0}


def test_details_are_needed_for_peer_counts_only_when_peers_are_connected() -> None:
    assert fields.needs_details(["peersSendingToUs"], snapshot())
    assert not fields.needs_details(["peersSendingToUs", "name"], snapshot(peers=0, seeds=0))
    assert fields.needs_details(["files"], snapshot(peers=0, seeds=0))
    lonely = fields.TorrentView(1, 0, snapshot(peers=0, seeds=0), None, "", 50)
    assert fields.build(lonely, ["peersSendingToUs", "peersGettingFromUs"]) == {"peersSendingToUs": 0, "peersGettingFromUs": 0}


def test_the_primary_mime_type_is_the_one_with_the_most_bytes() -> None:
    films = details(files=(FileSnapshot("f/film.mp4", 5000, 0, 1), FileSnapshot("f/a.txt", 100, 0, 1),
                           FileSnapshot("f/b.txt", 100, 0, 1), FileSnapshot("f/.pad/1", 9000, 0, 1, padding=True)))
    assert fields.primary_mime_type(view(detail=films)) == "video/mp4"
    assert fields.primary_mime_type(view(detail=details(files=()))) == fields.OCTET_STREAM


def test_web_seeds_are_listed_apart_from_the_peers() -> None:
    seed = PeerSnapshot("http://127.0.0.1:8000/pub/", "Web seed", "D", 1.0, 5000.0, 0.0, 900, 0, False)
    dropped = PeerSnapshot("https://127.0.0.1/x", "Web seed", "", 1.0, 0.0, 0.0, 0, 0, False, note="dropped: HTTP 404")
    both = replace(view(), details=details(peers=details().peers + (seed, dropped)))
    row = fields.build(both, ["peers", "peersSendingToUs", "webseeds", "webseedsSendingToUs"])
    assert [p["address"] for p in row["peers"]] == ["127.0.0.2", "::1"]
    assert row["webseeds"] == ["http://127.0.0.1:8000/pub/", "https://127.0.0.1/x"]
    assert (row["peersSendingToUs"], row["webseedsSendingToUs"]) == (1, 1)
    assert fields.needs_details(["webseeds"], snapshot(peers=0, seeds=0))
