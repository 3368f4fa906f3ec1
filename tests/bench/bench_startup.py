"""Start-up with 1,000 torrents: from launch to a usable window, and nothing rehashed.

    .venv/bin/python -m tests.bench.bench_startup [--torrents 1000]

A profile is prepared by a first session (1,000 small seeding torrents, checked once, resume
data saved on exit). Then the measured start: the session restores everything from the
store, the window is built and shows the first refresh. Target: at most 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import qasync  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.demo import loopback_session_config  # noqa: E402
from app.engine.creator import create_torrent  # noqa: E402
from app.engine.session import Session  # noqa: E402
from app.engine.snapshots import TorrentState  # noqa: E402
from app.engine.storage import disk  # noqa: E402
from app.ui.collector import MainThreadCollector  # noqa: E402


async def prepare(folder: Path, count: int) -> None:
    data = folder / "data"
    data.mkdir()
    session = Session(loopback_session_config("127.0.0.1", profile_dir=folder / "profile"))
    await session.start()
    for n in range(count):
        path = data / f"file-{n:04}.bin"
        path.write_bytes(os.urandom(40_000 + n))
        await session.add_torrent(create_torrent(path, piece_length=16384), data)
    while any(t.state != TorrentState.SEEDING for t in session.snapshot().torrents):
        await asyncio.sleep(0.05)
    await session.close()


async def measure(folder: Path, settings_file: Path) -> tuple[float, float, int, int]:
    from app.ui.bridge import EngineBridge
    from app.ui.main_window import MainWindow

    checks = 0
    original = disk.Storage.check

    async def counting_check(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal checks
        checks += 1
        return await original(self, *args, **kwargs)

    disk.Storage.check = counting_check  # type: ignore[method-assign]
    started = time.perf_counter()
    session = Session(loopback_session_config("127.0.0.1", profile_dir=folder / "profile"))
    await session.start()
    engine_ready = time.perf_counter() - started
    bridge = EngineBridge(session)
    window = MainWindow(bridge, QSettings(str(settings_file), QSettings.Format.IniFormat))
    window.show()
    bridge.refresh()
    await asyncio.sleep(0)  # one turn of the Qt loop: the window paints its first frame
    usable = time.perf_counter() - started
    rows = window.view.model().rowCount()
    await asyncio.sleep(2)  # let every torrent reach its state: any hashing would show now
    disk.Storage.check = original  # type: ignore[method-assign]
    window.close()
    await session.close()
    return engine_ready, usable, rows, checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torrents", type=int, default=1000)
    args = parser.parse_args()
    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)  # as the app does: Qt objects die on the GUI thread
    collector.start()
    with tempfile.TemporaryDirectory(prefix="piecemeal-startup-") as tmp:
        folder = Path(tmp)
        qasync.run(prepare(folder, args.torrents))
        engine, usable, rows, checks = qasync.run(measure(folder, folder / "settings.ini"))
    print(f"start-up with {args.torrents} torrents: engine restored in {engine * 1000:.0f} ms, "
          f"usable window with {rows} rows in {usable * 1000:.0f} ms (target 1000 ms); "
          f"torrents rehashed: {checks}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
