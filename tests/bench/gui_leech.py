"""Download one torrent through the real window (offscreen) on a qasync loop, then exit.

    python -m tests.bench.gui_leech TORRENT OUT_DIR BIND_HOST PEER_HOST:PEER_PORT
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import qasync  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.demo import loopback_session_config  # noqa: E402
from app.engine import events  # noqa: E402
from app.engine.session import Session  # noqa: E402
from app.engine.snapshots import TorrentState  # noqa: E402
from app.ui.bridge import EngineBridge  # noqa: E402
from app.ui.collector import MainThreadCollector  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402


async def leech(torrent: Path, out: Path, host: str, peer: str, settings: Path) -> None:
    session = Session(loopback_session_config(host))
    await session.start()
    finished = asyncio.get_running_loop().create_future()

    def heard(event: events.Event) -> None:
        # The same words as piecemeal-cli's progress lines: the benchmark times the transfer by them.
        if isinstance(event, events.StateChanged) and event.state == TorrentState.DOWNLOADING:
            print("Downloading", flush=True)
        if isinstance(event, events.TorrentFinished) and not finished.done():
            print("Seeding", flush=True)
            finished.set_result(None)

    session.add_listener(heard)
    bridge = EngineBridge(session)
    window = MainWindow(bridge, QSettings(str(settings), QSettings.Format.IniFormat))
    window.show()
    bridge.start()
    info_hash = await session.add_torrent(torrent, out)
    window.select_torrent(info_hash)  # the details tabs refresh too, as for a user watching
    peer_host, peer_port = peer.rsplit(":", 1)
    session.add_peer(info_hash, peer_host, int(peer_port))
    await finished
    bridge.stop()
    window.close()
    await session.close()


def main(argv: list[str]) -> int:
    torrent, out, host, peer = argv
    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)
    collector.start()
    with tempfile.TemporaryDirectory() as tmp:
        qasync.run(leech(Path(torrent), Path(out), host, peer, Path(tmp) / "settings.ini"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
