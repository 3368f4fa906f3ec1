"""The daemon's settings file (`settings.json` in the profile), in Transmission's own key names.

One file holds what `session-get`/`session-set` show and change (speed limits, queue sizes,
the download folder ...) and what only the owner of the machine may change (the RPC address,
the user name and the scrypt hash of the password, the allowed host names, TLS). Pure apart
from `load_settings`/`save_settings`, which read and write the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import platformdirs

from app.engine.rate_limit import MINUTES_PER_DAY, AltSchedule
from app.engine.transport.mse_transport import Encryption
from app.engine.watch_folder import AfterAdd, WatchedFolder

SETTINGS_FILE: Final = "settings.json"
UTP_FIRST: Final = "piecemeal-utp-first"
KB: Final = 1000  # Transmission's speed unit: `units.speed-bytes` says 1000
EVERY_DAY: Final = 127  # tr_sched_day: TR_SCHED_ALL


class SettingsError(Exception):
    """The settings file or a requested change is not usable; the message says why."""


@dataclass(frozen=True, slots=True)
class Setting:
    kind: type  # bool, int, float or str
    default: Any
    remote: bool = True  # shown by session-get and changed by session-set; False: in the file only
    maximum: float = 2**31 - 1  # for numbers
    choices: tuple[str, ...] = ()  # for words: the only ones allowed (empty: any)


def _downloads() -> str:
    return platformdirs.user_downloads_dir()


# Transmission's settings.json and RPC spec section 4.1 names, with the engine's defaults.
SETTINGS: Final[dict[str, Setting]] = {
    "download-dir": Setting(str, None),  # None: the user's Downloads folder
    "peer-port": Setting(int, 6881, maximum=65535),
    "bind-address-ipv4": Setting(str, "0.0.0.0", remote=False),
    "peer-limit-global": Setting(int, 200),
    "peer-limit-per-torrent": Setting(int, 50),
    "dht-enabled": Setting(bool, True),
    "pex-enabled": Setting(bool, True),
    "lpd-enabled": Setting(bool, True),
    "port-forwarding-enabled": Setting(bool, True),  # UPnP / NAT-PMP / PCP
    "utp-enabled": Setting(bool, True),  # uTP (BEP 29) both ways; false: TCP only
    UTP_FIRST: Setting(bool, False),  # Piecemeal's own: dial uTP before TCP (TCP first costs less CPU)
    "encryption": Setting(str, "preferred", choices=("required", "preferred", "tolerated")),  # MSE/PE
    "speed-limit-down": Setting(int, 100),
    "speed-limit-down-enabled": Setting(bool, False),
    "speed-limit-up": Setting(int, 100),
    "speed-limit-up-enabled": Setting(bool, False),
    "alt-speed-down": Setting(int, 50),
    "alt-speed-up": Setting(int, 50),
    "alt-speed-enabled": Setting(bool, False),
    "alt-speed-time-enabled": Setting(bool, False),
    "alt-speed-time-begin": Setting(int, 540, maximum=MINUTES_PER_DAY - 1),  # minutes after midnight
    "alt-speed-time-end": Setting(int, 1020, maximum=MINUTES_PER_DAY - 1),
    "alt-speed-time-day": Setting(int, EVERY_DAY, maximum=EVERY_DAY),  # tr_sched_day bits
    "download-queue-enabled": Setting(bool, False),
    "download-queue-size": Setting(int, 5),
    "seed-queue-enabled": Setting(bool, False),
    "seed-queue-size": Setting(int, 10),
    "seedRatioLimit": Setting(float, 2.0),
    "seedRatioLimited": Setting(bool, False),
    "start-added-torrents": Setting(bool, True),
    "rpc-bind-address": Setting(str, "127.0.0.1", remote=False),
    "rpc-port": Setting(int, 9091, remote=False, maximum=65535),
    "rpc-username": Setting(str, "", remote=False),
    "rpc-password": Setting(str, "", remote=False),  # "scrypt$..." (see credentials), never the password
    "rpc-host-whitelist": Setting(list, [], remote=False),  # extra host names the RPC answers to
    "rpc-tls-enabled": Setting(bool, False, remote=False),
    "rpc-tls-cert": Setting(str, "", remote=False),  # "": a certificate made on first use
    "rpc-tls-key": Setting(str, "", remote=False),
    "watch-dir": Setting(str, "", remote=False),  # .torrent files put there are added by themselves
    "watch-dir-enabled": Setting(bool, False, remote=False),
    "trash-original-torrent-files": Setting(bool, False, remote=False),  # delete them once added, else move to added/
}


def defaults() -> dict[str, Any]:
    values = {key: setting.default for key, setting in SETTINGS.items()}
    values["download-dir"] = _downloads()
    return values


def checked(key: str, value: Any) -> Any:
    """The value if it has the setting's type (an int is a fine float); else SettingsError."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise SettingsError(f"'{key}' is not a setting Piecemeal knows")
    kind = setting.kind
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SettingsError(f"'{key}' must be {_KIND_WORDS[kind]}")
    if kind in (int, float) and not 0 <= value <= setting.maximum:
        raise SettingsError(f"'{key}' must be between 0 and {setting.maximum:,.0f}")
    if kind is list and not all(isinstance(item, str) for item in value):
        raise SettingsError(f"'{key}' must be a list of host names")
    if setting.choices and value not in setting.choices:
        raise SettingsError(f"'{key}' must be one of {', '.join(setting.choices)}, not '{value}'")
    return value


_KIND_WORDS: Final = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", list: "a list"}

# Transmission's encryption words and the engine's policies. "tolerated" (Transmission: dial
# plaintext, accept both) has no twin in the engine: "allow" accepts both as well, and dials
# MSE first; a peer that refuses MSE is dialed plaintext first from then on (EncryptionMemory),
# so the difference costs one failed attempt per such peer. The engine's "disable" (refuse
# encrypted peers) has no Transmission word at all.
ENCRYPTION: Final[dict[str, Encryption]] = {
    "required": Encryption.REQUIRE, "preferred": Encryption.ALLOW, "tolerated": Encryption.ALLOW,
}
# settings.json as Transmission writes it: tr_encryption_mode numbers.
_FILE_ENCRYPTION: Final = {0: "tolerated", 1: "preferred", 2: "required"}


def engine_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """SessionConfig fields from the settings: limits in bytes per second, 0 for none."""
    def limit(key: str, enabled: bool) -> int:
        return int(values[key]) * KB if enabled else 0

    return {
        "download_dir": Path(values["download-dir"]),
        "listen_port": values["peer-port"],
        "listen_host": values["bind-address-ipv4"],
        "max_peers": values["peer-limit-global"],
        "max_peers_per_torrent": values["peer-limit-per-torrent"],
        "enable_dht": values["dht-enabled"],
        "enable_pex": values["pex-enabled"],
        "enable_lsd": values["lpd-enabled"],
        "port_mapping": values["port-forwarding-enabled"],
        "transport": transport(values),
        "encryption": ENCRYPTION[values["encryption"]],
        "down_limit": limit("speed-limit-down", values["speed-limit-down-enabled"]),
        "up_limit": limit("speed-limit-up", values["speed-limit-up-enabled"]),
        "alt_down_limit": limit("alt-speed-down", True),
        "alt_up_limit": limit("alt-speed-up", True),
        "alt_limits_on": values["alt-speed-enabled"],
        "alt_schedule": alt_schedule(values) if values["alt-speed-time-enabled"] else None,
        "max_active_downloads": values["download-queue-size"] if values["download-queue-enabled"] else 0,
        "max_active_seeds": values["seed-queue-size"] if values["seed-queue-enabled"] else 0,
        "seed_ratio_limit": values["seedRatioLimit"] if values["seedRatioLimited"] else 0.0,
        "watch_folders": watched_folders(values),
    }


def transport(values: Mapping[str, Any]) -> str:
    """SessionConfig.transport: TCP only, or both with TCP or uTP dialed first."""
    if not values["utp-enabled"]:
        return "tcp"
    return "utp-first" if values[UTP_FIRST] else "both"


# The other way: the settings that say each SessionConfig.transport (not "utp", uTP only: they cannot).
TRANSPORT_SETTINGS: Final[dict[str, dict[str, bool]]] = {
    "both": {"utp-enabled": True, UTP_FIRST: False},
    "utp-first": {"utp-enabled": True, UTP_FIRST: True},
    "tcp": {"utp-enabled": False, UTP_FIRST: False},
}


def watched_folders(values: Mapping[str, Any]) -> tuple[WatchedFolder, ...]:
    if not (values["watch-dir-enabled"] and values["watch-dir"]):
        return ()
    after = AfterAdd.DELETE if values["trash-original-torrent-files"] else AfterAdd.MOVE
    return (WatchedFolder(Path(values["watch-dir"]).expanduser(), after=after),)


def alt_schedule(values: Mapping[str, Any]) -> AltSchedule:
    """tr_sched_day bits (1 Sunday, 2 Monday ... 64 Saturday) -> weekday() numbers (0 Monday)."""
    bits = values["alt-speed-time-day"]
    days = frozenset(weekday for weekday in range(7) if bits & (1 << ((weekday + 1) % 7)))
    return AltSchedule(days, values["alt-speed-time-begin"], values["alt-speed-time-end"])


def load_settings(profile: Path) -> dict[str, Any]:
    """The defaults overlaid with the profile's file (if any); a bad file is a SettingsError."""
    path = profile / SETTINGS_FILE
    values = defaults()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return values
    except (OSError, ValueError) as exc:
        raise SettingsError(f"Could not read {path}: {exc}") from None
    if not isinstance(saved, dict):
        raise SettingsError(f"{path} must hold one JSON object")
    for key, value in saved.items():
        if key == "encryption" and type(value) is int:
            value = _FILE_ENCRYPTION.get(value, value)  # a file from Transmission itself
        if key in SETTINGS:
            try:
                values[key] = checked(key, value)
            except SettingsError as exc:
                raise SettingsError(f"In {path}: {exc}") from None
    return values


def save_settings(profile: Path, values: Mapping[str, Any]) -> None:
    """Write atomically, readable by the owner only: the file holds the password's hash."""
    path = profile / SETTINGS_FILE
    temporary = path.with_suffix(".tmp")
    try:
        profile.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(values), f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise SettingsError(f"Could not save {path}: {exc.strerror or exc}") from None
