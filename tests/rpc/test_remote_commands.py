"""The window's commands as Transmission-RPC arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from app.engine.rate_limit import AltSchedule
from app.engine.torrent_options import TorrentOptions
from app.rpc.remote_commands import (
    DISABLED_ENCRYPTION, file_arguments, option_arguments, session_arguments, torrent_file,
)


def test_a_metainfo_travels_as_a_torrent_with_the_same_info_hash(tmp_path: Path) -> None:
    payload = tmp_path / "a.bin"
    payload.write_bytes(b"x" * 40_000)
    trackers = (("http://127.0.0.1:1/announce",), ("udp://127.0.0.1:2",))
    meta = parse_metainfo(create_torrent(payload, trackers=trackers, comment="hi", web_seeds=["http://127.0.0.1:3/"]))
    again = parse_metainfo(torrent_file(meta))
    assert again.info_hash == meta.info_hash and again.comment == "hi"
    assert again.trackers == trackers and again.url_list == ("http://127.0.0.1:3/",)


def test_file_priorities_become_wanted_and_priority_lists() -> None:
    assert file_arguments([2, 0, 1, 1]) == {
        "files-wanted": [0, 2, 3], "files-unwanted": [1], "priority-high": [0], "priority-normal": [2, 3],
    }


def test_options_in_transmissions_units_and_ours() -> None:
    options = TorrentOptions(sequential=True, down_limit=40_000, ratio_limit=None, seed_time_limit=60.0)
    assert option_arguments(options) == {
        "sequentialDownload": True, "downloadLimited": True, "downloadLimit": 40, "uploadLimited": False,
        "seedRatioMode": 0, "piecemeal-seed-time-limit": 60.0,
    }
    assert option_arguments(TorrentOptions(ratio_limit=0.0))["seedRatioMode"] == 2


def test_settings_map_to_session_set_and_the_rest_is_named() -> None:
    schedule = AltSchedule(frozenset({0, 6}), 60, 120)  # Monday and Sunday
    arguments, refused = session_arguments({
        "down_limit": 0, "up_limit": 2_000, "alt_schedule": schedule, "max_active_seeds": 4,
        "seed_ratio_limit": 0.0, "disk_reserve": 5, "listen_host": "127.0.0.1",
    })
    assert arguments == {
        "speed-limit-down-enabled": False, "speed-limit-up-enabled": True, "speed-limit-up": 2,
        "alt-speed-time-enabled": True, "alt-speed-time-begin": 60, "alt-speed-time-end": 120,
        "alt-speed-time-day": 1 | 2, "seed-queue-enabled": True, "seed-queue-size": 4, "seedRatioLimited": False,
    }
    assert refused == ["the disk space to keep free", "the listening address"]


def test_the_dial_order_goes_to_the_daemon_but_utp_only_is_refused_in_words() -> None:
    assert session_arguments({"transport": "utp-first"}) == ({"utp-enabled": True, "piecemeal-utp-first": True}, [])
    assert session_arguments({"transport": "tcp"}) == ({"utp-enabled": False, "piecemeal-utp-first": False}, [])
    assert session_arguments({"transport": "utp"}) == ({}, ["the transport to uTP only"])


@pytest.mark.parametrize(("policy", "word"), [("require", "required"), ("allow", "preferred")])
def test_the_encryption_policy_travels_in_transmissions_words(policy: str, word: str) -> None:
    assert session_arguments({"encryption": policy}) == ({"encryption": word}, [])


def test_disabled_encryption_has_no_transmission_word_and_is_named() -> None:
    arguments, refused = session_arguments({"encryption": "disable", "max_peers": 9})
    assert arguments == {"peer-limit-global": 9}
    assert refused == [DISABLED_ENCRYPTION] and "tolerated still accepts encrypted peers" in refused[0]
