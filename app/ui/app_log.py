"""Where the app's log goes besides stderr: the Log tab's buffer and a file in the profile.

The level the user picks in Preferences is that of the `app` logger (engine and window
alike). Other libraries stay at WARNING: their warnings and errors are kept, their debug
chatter (qasync logs every callback) is not. The file rotates, so it never grows past
BACKUPS + 1 files of MAX_BYTES.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

from app.ui.log_buffer import LogBuffer

FILE_NAME: Final = "piecemeal.log"
MAX_BYTES: Final = 1024**2
BACKUPS: Final = 3
FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The choices of Preferences, most to least said.
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LEVEL: Final = "INFO"
_APP_LOGGER: Final = "app"


@dataclass(frozen=True, slots=True)
class AppLog:
    buffer: LogBuffer
    path: Path | None  # the log file; None when there is none
    problem: str = ""  # why there is no file, in words


def open_log(profile_dir: Path | None, level: str) -> AppLog:
    """Attach the buffer and (given a profile) a rotating file to the root logger."""
    root = logging.getLogger()
    buffer = LogBuffer()
    root.addHandler(buffer)
    set_level(level)
    if profile_dir is None:
        return AppLog(buffer, None, "no profile folder")
    path = profile_dir / FILE_NAME
    try:
        profile_dir.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except OSError as error:
        problem = f"cannot write {path}: {error.strerror or error}"
        logging.getLogger(__name__).warning("no log file: %s", problem)
        return AppLog(buffer, None, problem)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    return AppLog(buffer, path)


def detached_log() -> AppLog:
    """A log nothing writes to: for a window built without one (tests, benchmarks)."""
    return AppLog(LogBuffer(), None, "no log for this window")


def close_log(log: AppLog) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler is log.buffer or _writes_to(handler, log.path):
            root.removeHandler(handler)
            handler.close()


def set_level(level: str) -> None:
    """What the app records from now on: one of LEVELS; an unknown name falls back to INFO."""
    name = level if level in LEVELS else DEFAULT_LEVEL
    logging.getLogger(_APP_LOGGER).setLevel(name)


def recording_level() -> int:
    return logging.getLogger(_APP_LOGGER).getEffectiveLevel()


def _writes_to(handler: logging.Handler, path: Path | None) -> bool:
    return isinstance(handler, RotatingFileHandler) and path is not None and Path(handler.baseFilename) == path
