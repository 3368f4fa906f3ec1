"""Snapshots from torrent-get answers: Piecemeal's own fields when a Piecemeal daemon sends
them, Transmission's alone when the daemon is Transmission; events from two polls."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from app.engine.events import MetadataReceived, SeedingGoalReached, TorrentAdded, TorrentErrored, TorrentFinished, TorrentRemoved
from app.engine.snapshots import PieceState, StopReason, TorrentState
from app.rpc.fields import CHECK, DOWNLOAD, DOWNLOAD_WAIT, SEED, STOPPED
from app.rpc.remote_snapshots import changes, piece_states, torrent_details, torrent_snapshot, torrent_state

HASH = "ab" * 20


def row(**fields: object) -> dict[str, object]:
    return {"hashString": HASH.upper(), "name": "film", "status": DOWNLOAD, **fields}


@pytest.mark.parametrize(
    ("fields", "state", "reason"),
    [
        ({"status": STOPPED}, TorrentState.DOWNLOADING, StopReason.USER),
        ({"status": STOPPED, "percentDone": 1.0}, TorrentState.SEEDING, StopReason.USER),
        ({"status": STOPPED, "error": 3, "errorString": "disk full"}, TorrentState.DOWNLOADING, StopReason.ERROR),
        ({"status": CHECK}, TorrentState.CHECKING, None),
        ({"status": DOWNLOAD_WAIT}, TorrentState.DOWNLOADING, StopReason.QUEUED),
        ({"status": DOWNLOAD, "metadataPercentComplete": 0.0}, TorrentState.METADATA, None),
        ({"status": DOWNLOAD, "metadataPercentComplete": 1.0}, TorrentState.DOWNLOADING, None),
        ({"status": SEED}, TorrentState.SEEDING, None),
        ({"status": STOPPED, "piecemeal-state": "seeding", "piecemeal-stop-reason": "Seeding goal reached"},
         TorrentState.SEEDING, StopReason.SEEDING_GOAL),
        ({"status": SEED, "piecemeal-state": "seeding", "piecemeal-stop-reason": None}, TorrentState.SEEDING, None),
    ],
)
def test_the_state_is_ours_if_given_else_transmissions(
    fields: dict[str, object], state: TorrentState, reason: StopReason | None,
) -> None:
    assert torrent_state(row(**fields)) == (state, reason)


def test_a_transmission_row_gives_a_whole_snapshot() -> None:
    stats = [{"announce": "http://127.0.0.1:1/a", "tier": 0, "hasAnnounced": True, "lastAnnounceSucceeded": True,
              "lastAnnounceResult": "Success", "seederCount": 7, "leecherCount": -1, "nextAnnounceTime": 1100,
              "lastAnnounceTime": 1000}]
    snap = torrent_snapshot(row(percentDone=0.5, peersConnected=3, eta=-1, uploadRatio=-1, trackerStats=stats), 1000.0)
    assert snap.info_hash == HASH and snap.progress == 0.5 and (snap.peers, snap.seeds) == (3, 0)
    assert snap.eta is None and snap.ratio == 0.0 and snap.status_text == "Downloading" and not snap.paused
    assert (snap.swarm_seeds, snap.swarm_peers) == (7, None)
    tracker = snap.trackers[0]
    assert (tracker.status, tracker.message, tracker.next_announce, tracker.last_announce) == ("working", "", 100.0, 1000.0)


def test_pieces_come_from_our_states_or_from_transmissions_bitfield() -> None:
    ours = bytes([PieceState.VERIFIED, PieceState.REQUESTED, PieceState.FAILED])
    assert piece_states({"piecemeal-piece-states": base64.b64encode(ours).decode()}) == ours
    bitfield = base64.b64encode(bytes([0b1010_0000, 0b1000_0000])).decode()
    got = piece_states({"pieces": bitfield, "pieceCount": 9})
    assert got == bytes([3, 0, 3, 0, 0, 0, 0, 0, 3])
    assert piece_states({"pieces": "not base64!"}) == b""


def test_details_from_transmission_fields() -> None:
    details = torrent_details({
        "hashString": HASH, "pieceCount": 1, "pieces": "gA==", "availability": [-1],
        "files": [{"name": "film/a.mkv", "length": 10, "bytesCompleted": 10},
                  {"name": "film/b.srt", "length": 5, "bytesCompleted": 0}],
        "fileStats": [{"wanted": True, "priority": 1}, {"wanted": False, "priority": 0}],
        "peers": [{"address": "::1", "port": 6881, "clientName": "lt", "flagStr": "DE", "rateToClient": 9},
                  {"address": "127.0.0.2", "port": 1, "isEncrypted": True, "isUTP": True}],
        "downloadLimited": True, "downloadLimit": 40, "seedRatioMode": 2, "secondsSeeding": 5,
        "secondsDownloading": 10,
    })
    assert [f.priority for f in details.files] == [2, 0]
    assert details.options.file_priorities == (2, 0) and details.options.down_limit == 40_000
    assert details.options.ratio_limit == 0.0 and details.options.seed_time_limit is None
    assert details.peers[0].address == "[::1]:6881" and details.peers[0].down_rate == 9.0
    assert [(p.encrypted, p.transport) for p in details.peers] == [(False, "TCP"), (True, "uTP")]
    assert (details.pieces, details.availability, details.time_active) == (b"\x03", b"\x00", 15.0)


def test_two_polls_say_what_happened() -> None:
    base = torrent_snapshot(row(percentDone=0.5, pieceCount=0), 0.0)
    other = replace(base, info_hash="cd" * 20)
    after = replace(base, progress=1.0, num_pieces=4, error="disk full", reason=StopReason.ERROR)
    events = changes({base.info_hash: base, other.info_hash: other}, {base.info_hash: after, "ef" * 20: base})
    assert TorrentRemoved(other.info_hash) in events
    assert TorrentAdded("ef" * 20, "film") in events
    assert TorrentFinished(HASH, "film", TorrentState.DOWNLOADING, StopReason.ERROR) in events
    assert TorrentErrored(HASH, "film", TorrentState.DOWNLOADING, StopReason.ERROR, "disk full") in events
    assert MetadataReceived(HASH, "film") in events
    goal = replace(base, state=TorrentState.SEEDING, reason=StopReason.SEEDING_GOAL)
    assert changes({HASH: base}, {HASH: goal}) == [SeedingGoalReached(HASH, "film", TorrentState.SEEDING, goal.reason)]
    checked = replace(base, state=TorrentState.CHECKING)
    assert changes({HASH: checked}, {HASH: replace(checked, progress=1.0)}) == []
