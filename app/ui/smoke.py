"""`piecemeal --smoke-test [FILE.torrent]`: prove that an installed Piecemeal works, with no screen.

The installers' tests run this through the installed launcher. It starts the real window,
bridge and engine session offscreen, on 127.0.0.1 only (no DHT, no LSD), adds the torrent
paused (a small one made on the spot when none is given), waits until the snapshot and
the window's list both show it, and quits. Settings and downloads go to a temporary
folder, so the user's own are never touched, and no single-instance hand-off happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ["QT_API"] = "pyside6"  # qasync chooses its Qt binding from this when imported

import qasync  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtGui import QImageReader  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.ui.collector import MainThreadCollector  # noqa: E402

from app.engine.creator import create_torrent  # noqa: E402
from app.engine.errors import EngineError  # noqa: E402
from app.engine.session import Session, SessionConfig  # noqa: E402
from app.engine.snapshots import TorrentSnapshot  # noqa: E402
from app.ui.bridge import EngineBridge  # noqa: E402
from app.ui.dialogs.about import version  # noqa: E402
from app.ui.icons import ICON_DIR  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402

FLAG = "--smoke-test"
TIMEOUT = 20.0  # seconds for the torrent to show up; it takes well under one
POLL = 0.05


class SmokeFailure(Exception):
    """The smoke test saw something wrong; the message says what, in one sentence."""


def run(argv: Sequence[str]) -> int:
    """Run the smoke test for `piecemeal --smoke-test [FILE]`; 0 when everything worked."""
    options = _parse(argv[1:])
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication(list(argv[:1]))
    app.setApplicationName("Piecemeal")
    collector = MainThreadCollector(app)  # Qt objects are freed on the GUI thread only
    collector.start()
    print(f"Piecemeal {version()}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="piecemeal-smoke-") as scratch:
            name, info_hash = qasync.run(_smoke(options.torrent, Path(scratch)))
    except (SmokeFailure, EngineError, OSError) as failure:
        print(f"smoke-test failed: {failure}", file=sys.stderr, flush=True)
        return 1
    print(f"smoke-test ok: {name} {info_hash}", flush=True)
    return 0


def _parse(arguments: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"piecemeal {FLAG}", description="Start headless, add one torrent, quit."
    )
    parser.add_argument(FLAG, dest="smoke", action="store_true", required=True)
    parser.add_argument("torrent", nargs="?", type=Path, metavar="FILE.torrent")
    return parser.parse_args(list(arguments))


async def _smoke(torrent: Path | None, scratch: Path) -> tuple[str, str]:
    _check_resources()
    downloads = scratch / "downloads"
    downloads.mkdir()
    path = torrent.absolute() if torrent else _sample_torrent(scratch)
    # As in app.ui.app.run_gui: plain threads for the engine's disk work, not qasync's QThreads.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(thread_name_prefix="io"))
    session = Session(_loopback_only(downloads))
    await session.start()
    try:
        return await _add_and_see(session, path, scratch)
    finally:
        await session.close()


def _loopback_only(downloads: Path) -> SessionConfig:
    """The smoke test never reaches beyond this machine: no DHT, no multicast, no profile."""
    return SessionConfig(
        listen_host="127.0.0.1",
        listen_port=0,
        download_dir=downloads,
        enable_dht=False,
        enable_lsd=False,
        enable_pex=False,
        port_mapping=False,
        profile_dir=None,
    )


async def _add_and_see(session: Session, path: Path, scratch: Path) -> tuple[str, str]:
    bridge = EngineBridge(session)
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(bridge, settings)
    window.show()
    bridge.start()
    try:
        info_hash = await session.add_torrent(path, session.config.download_dir, paused=True)
        shown = await _eventually(lambda: _find(session, info_hash))
        if shown is None:
            raise SmokeFailure(f"the torrent did not show up in the session within {TIMEOUT:.0f} s")
        if not await _eventually(lambda: window.model.rowCount() > 0):
            raise SmokeFailure(f"the torrent did not show up in the window within {TIMEOUT:.0f} s")
    finally:
        window.request_quit()
        bridge.stop()
        await bridge.drain()
    return shown.name, info_hash


def _find(session: Session, info_hash: str) -> TorrentSnapshot | None:
    return next((t for t in session.snapshot().torrents if t.info_hash == info_hash), None)


async def _eventually[T](probe: Callable[[], T]) -> T | None:
    """The first truthy result of `probe`, polled for up to TIMEOUT seconds; else None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not (result := probe()):
        if loop.time() > deadline:
            return None
        await asyncio.sleep(POLL)
    return result


def _check_resources() -> None:
    """A bundle missing the icons or Qt's SVG plugin would start with blank icons: say so."""
    if not (ICON_DIR / "piecemeal.svg").is_file():
        raise SmokeFailure(f"the app icon is missing from {ICON_DIR}")
    if b"svg" not in [bytes(f.data()) for f in QImageReader.supportedImageFormats()]:
        raise SmokeFailure("Qt cannot read SVG images: its svg image format plugin is missing")


def _sample_torrent(scratch: Path) -> Path:
    content = scratch / "piecemeal-smoke-test.txt"
    content.write_bytes(b"Piecemeal smoke test\n" * 1000)
    torrent = scratch / "piecemeal-smoke-test.torrent"
    torrent.write_bytes(create_torrent(content))
    return torrent
