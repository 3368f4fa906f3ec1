"""The disk-space guard: no write may take a file system below the reserve the user keeps free.

Asking the OS for the free space costs a system call that can block (network file systems),
so it runs in a thread, and the answer is remembered for a moment and lowered by what we
write meanwhile: a piece write costs a dictionary look-up, not a statvfs.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

from app.engine.errors import StorageError

NO_SPACE: Final = "Not enough disk space"
MAX_AGE: Final = 1.0  # seconds a measured free space is trusted


def free_bytes(folder: Path) -> int:
    """Free space for us on the file system of `folder`, or of its nearest existing parent."""
    path = folder
    while not path.exists() and path.parent != path:
        path = path.parent
    return shutil.disk_usage(path).free


def enough_space(free: int, size: int, reserve: int) -> bool:
    """Would writing `size` bytes leave at least `reserve` bytes free?"""
    return free - size >= reserve


class DiskGuard:
    """Free space per folder, measured at most once a second, minus what was written since."""

    def __init__(self, probe: Callable[[Path], int] = free_bytes) -> None:
        self._probe = probe
        self._known: dict[Path, tuple[float, int]] = {}  # folder -> (measured at, free now)

    async def free(self, folder: Path, now: float) -> int:
        """Measured now, unless measured less than MAX_AGE ago; StorageError if it cannot be."""
        known = self._known.get(folder)
        if known is not None and now - known[0] < MAX_AGE:
            return known[1]
        try:
            free = await asyncio.to_thread(self._probe, folder)
        except OSError as exc:
            raise StorageError(f"Could not check the free space in {folder}: {exc.strerror or exc}.") from exc
        self._known[folder] = (now, free)
        return free

    async def room_for(self, folder: Path, size: int, reserve: int, now: float) -> bool:
        """May `size` bytes be written under `folder`? If so they are counted as written."""
        free = await self.free(folder, now)
        if not enough_space(free, size, reserve):
            self._known.pop(folder, None)  # measure again before saying no: space may be back
            free = await self.free(folder, now)
        if not enough_space(free, size, reserve):
            return False
        measured_at = self._known.get(folder, (now, 0))[0]
        self._known[folder] = (measured_at, free - size)
        return True
