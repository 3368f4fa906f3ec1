"""Preferences the user chooses, kept in QSettings next to the window's geometry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QSettings, QStandardPaths

from app.engine.rate_limit import AltSchedule
from app.engine.transport.utp_endpoint import TRANSPORTS
from app.engine.watch_folder import AfterAdd, WatchedFolder

DEFAULT_PORT = 6881
KIB: Final = 1024
MIB: Final = 1024**2
# Applied after the others: a port that is taken must not hold back the rest.
ADDRESS_FIELDS: Final = ("listen_host", "listen_port")


def default_download_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return Path(location) if location else Path.home() / "Downloads"


@dataclass(frozen=True, slots=True)
class Preferences:
    """In the units the dialog shows: KiB/s, minutes, MiB; 0 means no limit."""

    download_dir: Path
    listen_port: int = DEFAULT_PORT
    close_to_tray: bool = False
    listen_host: str = "0.0.0.0"
    max_peers: int = 200
    max_peers_per_torrent: int = 50
    down_limit: int = 0
    up_limit: int = 0
    alt_down_limit: int = 0
    alt_up_limit: int = 0
    alt_limits_on: bool = False
    alt_schedule_on: bool = False
    alt_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # datetime.weekday() numbers
    alt_start_minute: int = 8 * 60
    alt_end_minute: int = 20 * 60
    max_active_downloads: int = 0
    max_active_seeds: int = 0
    seed_ratio_limit: float = 0.0
    seed_time_limit: int = 0
    enable_dht: bool = True
    enable_pex: bool = True
    enable_lsd: bool = True
    port_mapping: bool = True  # ask the router to open the listening port (UPnP, NAT-PMP, PCP)
    disk_reserve: int = 1024
    encryption: str = "allow"  # MSE/PE: "allow", "require" or "disable"
    transport: str = "both"  # SessionConfig.transport: "both" (TCP, then uTP), "utp-first", "tcp" or "utp"
    log_level: str = "INFO"  # the `app` logger's, one of app_log.LEVELS
    ip_filter_path: str = ""  # an eMule .dat or PeerGuardian .p2p block list; "" for none
    banned_peers: tuple[str, ...] = ()  # addresses banned from the Peers tab
    watch_dir: str = ""  # .torrent files put there are added by themselves; "" none
    watch_delete: bool = False  # delete them once added, rather than move them to "added"
    notify_finished: bool = True  # a tray message when a download completes
    notify_errors: bool = True  # and when one stops on an error
    on_complete_program: str = ""  # run when a download completes (%N %F %D %I ...)


def _days(value: object) -> tuple[int, ...]:
    text = ",".join(value) if isinstance(value, list) else str(value)
    return tuple(int(day) for day in text.split(",") if day.strip())


def _words(value: object) -> tuple[str, ...]:
    text = ",".join(value) if isinstance(value, list) else str(value)
    return tuple(word.strip() for word in text.split(",") if word.strip())


def _flag(value: object) -> bool:
    # INI-backed QSettings hands booleans back as the strings "true"/"false".
    return value is True or str(value).lower() == "true"


# How each field comes back from QSettings (an INI file returns strings).
_READERS: Final[dict[str, Callable[[Any], Any]]] = {
    "Path": lambda v: Path(str(v)),
    "int": int,
    "float": float,
    "bool": _flag,
    "str": str,
    "tuple[int, ...]": _days,
    "tuple[str, ...]": _words,
}


def load_preferences(settings: QSettings) -> Preferences:
    defaults = Preferences(download_dir=default_download_dir())
    values = {}
    for f in fields(Preferences):
        raw = settings.value(f"preferences/{f.name}", None)
        values[f.name] = getattr(defaults, f.name) if raw is None else _READERS[f.type](raw)
    return Preferences(**values)


def save_preferences(settings: QSettings, preferences: Preferences) -> None:
    for f in fields(Preferences):
        value = getattr(preferences, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        settings.setValue(f"preferences/{f.name}", value)


def alt_schedule(preferences: Preferences) -> AltSchedule | None:
    if not preferences.alt_schedule_on:
        return None
    return AltSchedule(
        frozenset(preferences.alt_days), preferences.alt_start_minute, preferences.alt_end_minute
    )


def session_settings(preferences: Preferences) -> dict[str, Any]:
    """SessionConfig keyword arguments, in the engine's units (bytes, seconds)."""
    p = preferences
    return {
        "listen_host": p.listen_host,
        "listen_port": p.listen_port,
        "download_dir": p.download_dir,
        "max_peers": p.max_peers,
        "max_peers_per_torrent": p.max_peers_per_torrent,
        "down_limit": p.down_limit * KIB,
        "up_limit": p.up_limit * KIB,
        "alt_down_limit": p.alt_down_limit * KIB,
        "alt_up_limit": p.alt_up_limit * KIB,
        "alt_limits_on": p.alt_limits_on,
        "alt_schedule": alt_schedule(p),
        "max_active_downloads": p.max_active_downloads,
        "max_active_seeds": p.max_active_seeds,
        "seed_ratio_limit": p.seed_ratio_limit,
        "seed_time_limit": p.seed_time_limit * 60.0,
        "enable_dht": p.enable_dht,
        "enable_pex": p.enable_pex,
        "enable_lsd": p.enable_lsd,
        "port_mapping": p.port_mapping,
        "disk_reserve": p.disk_reserve * MIB,
        "encryption": p.encryption,
        "ip_filter_path": Path(p.ip_filter_path).expanduser() if p.ip_filter_path else None,
        "banned_peers": p.banned_peers,
        "transport": p.transport if p.transport in TRANSPORTS else "both",
        "watch_folders": watched_folders(p),
        "on_complete_program": p.on_complete_program.strip(),
    }


def watched_folders(preferences: Preferences) -> tuple[WatchedFolder, ...]:
    folder = preferences.watch_dir.strip()
    if not folder:
        return ()
    after = AfterAdd.DELETE if preferences.watch_delete else AfterAdd.MOVE
    return (WatchedFolder(Path(folder).expanduser(), after=after),)


def changed_settings(before: Preferences, after: Preferences) -> dict[str, Any]:
    """The SessionConfig fields whose values differ between two sets of preferences."""
    old, new = session_settings(before), session_settings(after)
    return {k: v for k, v in new.items() if old[k] != v}


def last_save_dir(settings: QSettings) -> Path:
    """The folder the add dialog offers: the last one used, else the download folder."""
    remembered = settings.value("add/last_save_dir", "")
    return Path(str(remembered)) if remembered else load_preferences(settings).download_dir


def remember_save_dir(settings: QSettings, folder: Path) -> None:
    settings.setValue("add/last_save_dir", str(folder))


def choose_magnet_files(settings: QSettings) -> bool:
    """Whether a magnet link stops for the user to choose its files once its metadata arrives."""
    return _flag(settings.value("add/choose_magnet_files", False))


def remember_choose_magnet_files(settings: QSettings, choose: bool) -> None:
    settings.setValue("add/choose_magnet_files", choose)
