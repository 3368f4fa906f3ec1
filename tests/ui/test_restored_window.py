"""Issue 19: the window over a profile of 10,000 torrents shows every row at its first refresh,
before the engine has parsed a .torrent or built a torrent's storage, picker or trackers.

Counted, not timed (tests/bench/bench_startup.py measures the time).
"""

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from app.demo import loopback_session_config
from app.engine import session as session_module
from app.engine import torrent as torrent_module
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentState
from app.ui.bridge import EngineBridge
from app.ui.main_window import MainWindow
from tests.integration.test_restore_at_scale import COUNT, _seeded_profile


async def test_the_first_window_shows_ten_thousand_restored_rows_from_the_store_alone(
    tmp_path, settings, monkeypatch
):
    _seeded_profile(tmp_path)
    built: list[str] = []
    for module in (session_module, torrent_module):
        parse = module.parse_metainfo
        monkeypatch.setattr(module, "parse_metainfo", lambda data, parse=parse: built.append("parse") or parse(data))
    for part in ("Storage", "PiecePicker", "TrackerManager"):
        make = getattr(torrent_module, part)
        monkeypatch.setattr(torrent_module, part, lambda *a, make=make, part=part, **k: built.append(part) or make(*a, **k))
    session = Session(loopback_session_config("127.0.0.1", profile_dir=tmp_path / "profile"))
    await session.start()
    window = None
    try:
        bridge = EngineBridge(session)
        window = MainWindow(bridge, settings)
        window.show()
        bridge.refresh()
        assert window.model.rowCount() == COUNT
        assert built == []  # every row from the store's summaries and resume data
        rows = {t.name: t for t in session.snapshot().torrents}
        seeding, paused = rows["archive-00000.bin"], rows["archive-00005.bin"]
        assert (seeding.state, seeding.reason, seeding.progress) == (TorrentState.SEEDING, None, 1.0)
        assert (paused.state, paused.reason, paused.progress) == (TorrentState.SEEDING, StopReason.USER, 1.0)
    finally:
        await session.close()
        if window is not None:  # as the `window` fixture tears down (tests/ui/conftest.py), last:
            window.bridge.stop()  # closing the last window ends the loop
            window.close()
            window.deleteLater()
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
