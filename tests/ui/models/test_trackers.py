from PySide6.QtCore import Qt

from app.ui.models.trackers import TrackerModel
from tests.ui.factories import tracker


def test_passes_qtmodeltester(qtmodeltester):
    model = TrackerModel()
    model.set_items([tracker(0), tracker(1, tier=1, seeds=None, next_announce=None)])
    qtmodeltester.check(model, force_py=True)


def test_shows_counts_and_the_last_message():
    model = TrackerModel()
    failing = tracker(0, status="error", message="Connection refused.", seeds=None, peers=None)
    model.set_items([failing])
    row = [model.index(0, column).data() for column in range(model.columnCount())]
    assert row[0] == "http://127.0.0.1:8000/announce"
    assert row[2] == "error"
    assert row[3] == "" and row[4] == ""
    assert row[-1] == "Connection refused."
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == "Connection refused."


def test_sorting_by_tier():
    model = TrackerModel()
    model.set_items([tracker(0, tier=2), tracker(1, tier=0), tracker(2, tier=1)])
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert [model.item(r).tier for r in range(3)] == [0, 1, 2]
