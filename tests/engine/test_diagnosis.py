"""The rules of app/engine/diagnosis.py, from small tables of measurements: no sockets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.engine.diagnosis import REACH_GRACE, CauseKind, Measurements, Reach, diagnose
from app.engine.snapshots import StopReason

KIB = 1024
# A healthy download: fast, unlimited, many peers with everything, a working tracker.
HEALTHY = Measurements(
    downloading=True, down_rate=500 * KIB, peers=20, peers_with_needed=20, known_peers=30,
    needed_pieces=100, available_pieces=100, choked_by=2, interested_in=20, unwritten_cap=16 * 1024 * KIB,
    trackers=1, trackers_working=1, dht=True, max_peers=50,
    reach=Reach(incoming_connections=3, uptime=REACH_GRACE * 2),
)

# (name, changes to HEALTHY, the cause named first)
CASES = [
    ("paused", dict(reason=StopReason.USER, downloading=False), CauseKind.STOPPED),
    ("queued", dict(reason=StopReason.QUEUED, downloading=False), CauseKind.QUEUED),
    ("torrent limit", dict(down_rate=99 * KIB, torrent_down_limit=100 * KIB), CauseKind.TORRENT_LIMIT),
    ("session limit", dict(down_rate=99 * KIB, session_down_limit=100 * KIB), CauseKind.SESSION_LIMIT),
    ("tighter session limit", dict(down_rate=49 * KIB, torrent_down_limit=100 * KIB, session_down_limit=50 * KIB),
     CauseKind.SESSION_LIMIT),
    ("disk paused", dict(disk_behind=True, unwritten=16 * 1024 * KIB), CauseKind.DISK),
    ("disk at cap", dict(unwritten=16 * 1024 * KIB), CauseKind.DISK),
    ("nobody", dict(peers=0, peers_with_needed=0, known_peers=0, available_pieces=0, interested_in=0, choked_by=0,
                    trackers_working=0, tracker_message="Tracker: connection refused", dht=False),
     CauseKind.NO_SOURCES),
    ("choked", dict(choked_by=15), CauseKind.CHOKED),
    ("few sources", dict(peers=2, peers_with_needed=1, known_peers=0, available_pieces=40, interested_in=1,
                         choked_by=0), CauseKind.FEW_SOURCES),
    ("connection limit", dict(peers=50), CauseKind.CONNECTION_LIMIT),
    ("session connections", dict(session_full=True), CauseKind.CONNECTION_LIMIT),
    ("unreachable", dict(reach=Reach(uptime=REACH_GRACE + 60)), CauseKind.UNREACHABLE),
]


@pytest.mark.parametrize(("changes", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_cause_is_named_first(changes: dict[str, object], kind: CauseKind) -> None:
    causes = diagnose(replace(HEALTHY, **changes))
    assert causes and causes[0].kind == kind, causes


def test_a_healthy_download_has_no_cause() -> None:
    assert diagnose(HEALTHY) == ()


def test_a_limit_below_its_share_is_not_blamed() -> None:
    assert diagnose(replace(HEALTHY, down_rate=50 * KIB, torrent_down_limit=100 * KIB)) == ()


def test_causes_are_ranked_nearest_the_user_first() -> None:
    causes = diagnose(replace(HEALTHY, down_rate=99 * KIB, torrent_down_limit=100 * KIB, disk_behind=True,
                              choked_by=15))
    assert [c.kind for c in causes] == [CauseKind.TORRENT_LIMIT, CauseKind.DISK, CauseKind.CHOKED]


def test_the_number_shows_the_measurement() -> None:
    few = replace(HEALTHY, peers=2, peers_with_needed=2, known_peers=0, available_pieces=40, choked_by=0)
    (cause,) = diagnose(few)
    assert cause.number_text == "availability 0.4"
    assert "2 connected peers" in cause.sentence and cause.advice


def test_limit_number_and_short_form() -> None:
    (cause,) = diagnose(replace(HEALTHY, down_rate=99 * KIB, torrent_down_limit=100 * KIB))
    assert cause.short == "This torrent's download limit is reached (99 KiB/s of 100 KiB/s)"


def test_a_dead_tracker_is_quoted_and_dht_off_is_said() -> None:
    nobody = replace(HEALTHY, peers=0, peers_with_needed=0, known_peers=0, choked_by=0, interested_in=0,
                     trackers_working=0, tracker_message="Tracker: connection refused", dht=False)
    (cause,) = diagnose(nobody)
    assert cause.number_text == "Tracker: connection refused; DHT is off"
    assert "Turn on the DHT" in cause.advice


def test_reachability_waits_for_its_grace_and_a_mapping_counts() -> None:
    assert diagnose(replace(HEALTHY, reach=Reach(uptime=REACH_GRACE - 1))) == ()
    assert diagnose(replace(HEALTHY, reach=Reach(port_mapped=True, uptime=REACH_GRACE * 2))) == ()
    assert diagnose(replace(HEALTHY, reach=Reach())) == ()  # unknown: no session


def test_seeding_names_only_a_stop() -> None:
    assert diagnose(replace(HEALTHY, downloading=False, torrent_down_limit=1, choked_by=20)) == ()
