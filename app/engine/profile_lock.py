"""One engine per profile: the window's local session and piecemeal-daemon both lock
`daemon.lock` in the profile, so that two engines never write the same files and database.

The holder writes who it is into the file ("window", or "daemon" and its RPC address), so
the one refused can say who has the profile, and the window can offer to connect to the
daemon. flock(2) locks go with the process: a crash leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from app.engine.errors import EngineError

LOCK_FILE: Final = "daemon.lock"
WINDOW: Final = "window"
DAEMON: Final = "daemon"


class ProfileBusy(EngineError):
    """Another Piecemeal has the profile: `holder` is "window" or "daemon", `url` the daemon's RPC address."""

    def __init__(self, profile: Path, holder: str, url: str) -> None:
        who = "a piecemeal-daemon" if holder == DAEMON else "another Piecemeal window"
        super().__init__(f"{who} is using the profile {profile}")
        self.holder = holder
        self.url = url


class ProfileLock:
    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self._fd: int | None = None

    def acquire(self, holder: str) -> None:
        """Take the lock and say who holds it; ProfileBusy if another process has it."""
        self.profile.mkdir(parents=True, exist_ok=True)
        # Not O_TRUNC: the holder's note must survive a refused attempt.
        fd = os.open(self.profile / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ProfileBusy(self.profile, *read_holder(self.profile)) from None
        self._fd = fd
        self.note(holder)

    def note(self, holder: str, url: str = "") -> None:
        """Say who holds the profile (and, for a daemon, where its RPC answers)."""
        assert self._fd is not None, "note() after acquire()"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{holder} {url}".strip().encode("utf-8") + b"\n", 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None


def read_holder(profile: Path) -> tuple[str, str]:
    """Who holds the profile, as its holder wrote it: ("daemon", url), ("window", ""), or ("", "")."""
    try:
        text = (profile / LOCK_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", ""
    holder, _, url = text.strip().partition(" ")
    return holder, url
