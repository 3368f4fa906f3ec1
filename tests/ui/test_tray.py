from app.engine.snapshots import SessionSnapshot
from app.ui.tray import tray_tooltip


def test_tooltip_shows_both_speeds():
    snapshot = SessionSnapshot((), 2 * 1024**2, 512.0, 3, 0, 6881)
    assert tray_tooltip(snapshot) == "Piecemeal\nDown: 2.0 MiB/s\nUp: 512 B/s"
