"""Preferences the user chooses, kept in QSettings next to the window's geometry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

DEFAULT_PORT = 6881


def default_download_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return Path(location) if location else Path.home() / "Downloads"


@dataclass(frozen=True, slots=True)
class Preferences:
    download_dir: Path
    listen_port: int = DEFAULT_PORT
    close_to_tray: bool = False


def load_preferences(settings: QSettings) -> Preferences:
    return Preferences(
        download_dir=Path(
            str(settings.value("preferences/download_dir", str(default_download_dir())))
        ),
        listen_port=int(settings.value("preferences/listen_port", DEFAULT_PORT)),  # type: ignore[arg-type]
        close_to_tray=_flag(settings.value("preferences/close_to_tray", False)),
    )


def save_preferences(settings: QSettings, preferences: Preferences) -> None:
    settings.setValue("preferences/download_dir", str(preferences.download_dir))
    settings.setValue("preferences/listen_port", preferences.listen_port)
    settings.setValue("preferences/close_to_tray", preferences.close_to_tray)


def last_save_dir(settings: QSettings) -> Path:
    """The folder the add dialog offers: the last one used, else the download folder."""
    remembered = settings.value("add/last_save_dir", "")
    return Path(str(remembered)) if remembered else load_preferences(settings).download_dir


def remember_save_dir(settings: QSettings, folder: Path) -> None:
    settings.setValue("add/last_save_dir", str(folder))


def _flag(value: object) -> bool:
    # INI-backed QSettings hands booleans back as the strings "true"/"false".
    return value is True or str(value).lower() == "true"
