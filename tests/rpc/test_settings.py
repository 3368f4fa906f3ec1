"""app/rpc/settings.py: Transmission's keys, checked; the engine's config from them; the file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from app.engine.transport.utp_endpoint import TRANSPORTS
from app.engine.watch_folder import AfterAdd, WatchedFolder
from app.rpc.settings import (
    SETTINGS_FILE, TRANSPORT_SETTINGS, SettingsError, checked, defaults, engine_config, load_settings, save_settings,
)


def test_limits_apply_only_when_enabled_in_bytes_per_second() -> None:
    values = defaults() | {"speed-limit-down": 250, "speed-limit-down-enabled": True, "speed-limit-up": 40}
    config = engine_config(values)
    assert (config["down_limit"], config["up_limit"], config["alt_down_limit"]) == (250_000, 0, 50_000)


def test_queues_and_the_ratio_goal_apply_only_when_enabled() -> None:
    values = defaults() | {"download-queue-size": 3, "seed-queue-enabled": True, "seed-queue-size": 4,
                           "seedRatioLimit": 1.5}
    config = engine_config(values)
    assert (config["max_active_downloads"], config["max_active_seeds"], config["seed_ratio_limit"]) == (0, 4, 0.0)


@pytest.mark.parametrize(("key", "value"), [("speed-limit-down", "fast"), ("dht-enabled", 1), ("peer-port", True),
                                            ("peer-port", -5), ("peer-port", 65536), ("speed-limit-up", 2**70), ("rpc-host-whitelist", [1]), ("nonsense", 1)])
def test_values_of_the_wrong_type_are_refused_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=key):
        checked(key, value)


def test_a_whole_number_is_a_fine_ratio() -> None:
    assert checked("seedRatioLimit", 2) == 2.0


def test_the_file_round_trips_and_is_private(tmp_path: Path) -> None:
    values = defaults() | {"rpc-username": "ann", "speed-limit-up": 7}
    save_settings(tmp_path, values)
    assert load_settings(tmp_path) == values
    assert stat.S_IMODE((tmp_path / SETTINGS_FILE).stat().st_mode) == 0o600


def test_a_missing_file_gives_the_defaults_and_a_bad_one_a_sentence(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == defaults()
    (tmp_path / SETTINGS_FILE).write_text("{oops")
    with pytest.raises(SettingsError, match="Could not read"):
        load_settings(tmp_path)
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"peer-port": "x"}))
    with pytest.raises(SettingsError, match="peer-port"):
        load_settings(tmp_path)


def test_the_turtle_schedule_turns_transmissions_day_bits_into_weekdays() -> None:
    values = defaults() | {"alt-speed-time-enabled": True, "alt-speed-time-begin": 1320, "alt-speed-time-end": 360,
                           "alt-speed-time-day": 1 | 2 | 64}  # Sunday, Monday, Saturday
    schedule = engine_config(values)["alt_schedule"]
    assert (schedule.days, schedule.start_minute, schedule.end_minute) == (frozenset({0, 5, 6}), 1320, 360)
    assert engine_config(defaults())["alt_schedule"] is None
    with pytest.raises(SettingsError, match="alt-speed-time-begin"):
        checked("alt-speed-time-begin", 1440)


def test_the_watch_dir_applies_only_when_enabled() -> None:
    assert engine_config(defaults() | {"watch-dir": "/srv/in"})["watch_folders"] == ()
    values = defaults() | {"watch-dir": "/srv/in", "watch-dir-enabled": True}
    assert engine_config(values)["watch_folders"] == (WatchedFolder(Path("/srv/in")),)
    trashed = engine_config(values | {"trash-original-torrent-files": True})["watch_folders"]
    assert trashed == (WatchedFolder(Path("/srv/in"), after=AfterAdd.DELETE),)


@pytest.mark.parametrize(("utp", "first", "transport"), [(True, False, "both"), (True, True, "utp-first"),
                                                         (False, False, "tcp"), (False, True, "tcp")])
def test_utp_settings_make_the_transport(utp: bool, first: bool, transport: str) -> None:
    assert engine_config(defaults() | {"utp-enabled": utp, "piecemeal-utp-first": first})["transport"] == transport


def test_each_transport_the_daemon_takes_round_trips_through_its_settings() -> None:
    assert engine_config(defaults())["transport"] == "both"  # TCP first by default, as everywhere
    for setting, values in TRANSPORT_SETTINGS.items():
        assert engine_config(defaults() | values)["transport"] == setting
    assert set(TRANSPORT_SETTINGS) == set(TRANSPORTS) - {"utp"}  # uTP only is for piecemeal-cli and the window


@pytest.mark.parametrize(("word", "policy"), [("required", "require"), ("preferred", "allow"), ("tolerated", "allow")])
def test_transmissions_encryption_words_map_to_the_engines_policies(word: str, policy: str) -> None:
    assert engine_config(defaults() | {"encryption": checked("encryption", word)})["encryption"] == policy


def test_encryption_is_preferred_by_default_and_other_words_are_refused() -> None:
    assert defaults()["encryption"] == "preferred"
    with pytest.raises(SettingsError, match="'encryption' must be one of required, preferred, tolerated, not 'always'"):
        checked("encryption", "always")


@pytest.mark.parametrize(("number", "word"), [(0, "tolerated"), (1, "preferred"), (2, "required")])
def test_a_settings_file_from_transmission_has_its_encryption_as_a_number(tmp_path: Path, number: int, word: str) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"encryption": number}))
    assert load_settings(tmp_path)["encryption"] == word


def test_a_settings_file_with_a_bad_encryption_gets_a_sentence(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"encryption": 7}))
    with pytest.raises(SettingsError, match="'encryption' must be a string"):
        load_settings(tmp_path)
