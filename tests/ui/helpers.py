"""Awaiting Qt signals from async tests, and real .torrent files to add."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QApplication, QMessageBox

from app.engine.creator import create_torrent
from tests.swarm_helpers import eventually as until  # the polling guard, under the name the Qt tests use


def emission(
    signal: SignalInstance, predicate: Callable[..., bool] = lambda *_: True
) -> asyncio.Future[tuple[Any, ...]]:
    """A future for the arguments of the next emission that satisfies `predicate`.

    Connected at once, so it cannot miss an emission that happens before it is awaited.
    Inside a coroutine this replaces qtbot.waitSignal, whose nested Qt loop would run
    under the qasync loop that is already running the test.
    """
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not future.done() and predicate(*args):
            future.set_result(args)

    signal.connect(slot)
    future.add_done_callback(lambda _f: signal.disconnect(slot))
    return future


async def next_emission(
    signal: SignalInstance, predicate: Callable[..., bool] = lambda *_: True, timeout: float = 10.0
) -> tuple[Any, ...]:
    return await asyncio.wait_for(emission(signal, predicate), timeout)


def write_torrent(folder: Path, name: str = "payload.bin", size: int = 300_000) -> Path:
    """A payload in `folder` and its .torrent beside it; no trackers: nothing leaves the host."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = folder / name
    payload.write_bytes(os.urandom(size))
    torrent = folder / f"{name}.torrent"
    torrent.write_bytes(create_torrent(payload, trackers=()))
    return torrent


def write_album(
    folder: Path, sizes: tuple[int, ...] = (40_000, 40_000), piece_length: int | None = None
) -> Path:
    """A folder of files 01.bin, 02.bin ... of these sizes, and its .torrent beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, size in enumerate(sizes, start=1):
        (folder / f"{number:02}.bin").write_bytes(os.urandom(size))
    torrent = folder.with_suffix(".torrent")
    torrent.write_bytes(create_torrent(folder, trackers=(), piece_length=piece_length))
    return torrent


def message_boxes() -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]
