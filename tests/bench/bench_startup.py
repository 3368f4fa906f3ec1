"""Start-up with many torrents: from launch to a usable window, and nothing rehashed.

    .venv/bin/python -m tests.bench.bench_startup [--count 1000] [--profile DIR]

A profile is prepared by a first session (small torrents, one in ten of several files;
most seeding, one in ten paused, one in a hundred downloading; checked once, resume data
saved on exit). `--profile DIR` keeps it there and reuses it on the next run. Then the
measured start: the session restores everything from the store, the window is built and
shows the first refresh. Then, settled: one bridge tick (engine snapshot, diff, models) in
main-thread CPU time, the process's RSS and open descriptors.
Targets: 2 s to a usable window for 10,000, an 8 ms tick, 1 GB RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import psutil  # noqa: E402
import qasync  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.demo import loopback_session_config  # noqa: E402
from app.engine.creator import create_torrent  # noqa: E402
from app.engine.session import Session  # noqa: E402
from app.engine.snapshots import TorrentState  # noqa: E402
from app.engine.storage import disk  # noqa: E402
from app.ui.collector import MainThreadCollector  # noqa: E402


def _payload(data: Path, n: int) -> Path:
    """One file, or one in ten a folder of five; one in a hundred half written."""
    if n % 10 == 3:
        path = data / f"album-{n:05}"
        path.mkdir()
        for k in range(5):
            (path / f"track-{k}.bin").write_bytes(os.urandom(8_000 + n))
        return path
    path = data / f"file-{n:05}.bin"
    path.write_bytes(os.urandom(40_000 + n))
    return path


async def prepare(folder: Path, count: int) -> None:
    data = folder / "data"
    data.mkdir()
    session = Session(loopback_session_config("127.0.0.1", profile_dir=folder / "profile"))
    await session.start()
    for n in range(count):
        path = _payload(data, n)
        metainfo = create_torrent(path, piece_length=16384)
        if n % 100 == 7:
            os.truncate(path, path.stat().st_size // 2)  # downloading, from nobody
        await session.add_torrent(metainfo, data, paused=n % 10 == 5)
    while any(t.state == TorrentState.CHECKING and t.reason is None for t in session.snapshot().torrents):
        await asyncio.sleep(0.05)
    await session.close()


def _tick_cpu(bridge: object) -> float:
    ticks = []
    for _ in range(5):
        started = time.thread_time()
        bridge.refresh()  # type: ignore[attr-defined]
        ticks.append(time.thread_time() - started)
    return statistics.median(ticks)


async def measure(folder: Path, settings_file: Path) -> tuple[float, float, int, int, float, int, int]:
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
    tick = _tick_cpu(bridge)
    me = psutil.Process()
    rss, fds = me.memory_info().rss, me.num_fds()
    window.close()
    await session.close()
    return engine_ready, usable, rows, checks, tick, rss, fds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", "--torrents", type=int, default=1000)
    parser.add_argument("--profile", type=Path, help="keep the prepared profile here, reuse it if there")
    args = parser.parse_args()
    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)  # as the app does: Qt objects die on the GUI thread
    collector.start()
    with tempfile.TemporaryDirectory(prefix="piecemeal-startup-") as tmp:
        folder = args.profile or Path(tmp)
        if not (folder / "profile").exists():
            folder.mkdir(parents=True, exist_ok=True)
            qasync.run(prepare(folder, args.count))
        engine, usable, rows, checks, tick, rss, fds = qasync.run(measure(folder, folder / "settings.ini"))
    print(f"start-up with {args.count} torrents: engine restored in {engine * 1000:.0f} ms, "
          f"usable window with {rows} rows in {usable * 1000:.0f} ms (budget 2000 ms); "
          f"torrents rehashed: {checks} (budget 0)")
    print(f"settled: bridge tick {tick * 1000:.1f} ms CPU (budget 8 ms), RSS {rss / 2**20:.0f} MiB "
          f"(budget 1024 MiB), open descriptors {fds}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
