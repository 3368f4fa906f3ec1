import random
from dataclasses import replace

from PySide6.QtCore import QPersistentModelIndex, Qt

from app.engine.diagnosis import Cause, CauseKind
from app.engine.snapshots import StopReason, TorrentState
from app.ui.models.roles import ITEM_ROLE, PROGRESS_ROLE
from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.state_filter import StateFilter
from app.ui.torrent_diff import TorrentDiff, diff_torrents
from tests.ui.factories import torrent


def _names(model: TorrentListModel) -> list[str]:
    return [model.item(row).name for row in range(model.rowCount())]


def _model_with(count: int) -> TorrentListModel:
    model = TorrentListModel()
    model.apply(TorrentDiff(added=tuple(torrent(i) for i in range(count))))
    return model


def test_passes_qtmodeltester(qtmodeltester):
    model = _model_with(5)
    model.apply(TorrentDiff(changed=(torrent(2, progress=0.9),), removed=(torrent(4).info_hash,)))
    qtmodeltester.check(model, force_py=True)


def test_shows_formatted_columns():
    model = _model_with(1)
    text = {column: model.index(0, column).data() for column in TorrentColumn}
    assert text[TorrentColumn.NAME] == "Torrent 0"
    assert text[TorrentColumn.SIZE] == "4.0 MiB"
    assert text[TorrentColumn.PROGRESS] == "25.0%"
    assert text[TorrentColumn.SEEDS] == "1 (5)"
    assert text[TorrentColumn.DOWN] == "1000 B/s"
    assert text[TorrentColumn.UP] == ""
    assert model.index(0, TorrentColumn.PROGRESS).data(PROGRESS_ROLE) == 0.25
    assert model.index(0, TorrentColumn.NAME).data(ITEM_ROLE) == torrent(0)


def test_a_change_emits_data_changed_for_that_row_only(qtbot):
    model = _model_with(10)
    changed_rows = []
    model.dataChanged.connect(lambda top, bottom: changed_rows.append((top.row(), bottom.row())))
    model.rowsInserted.connect(lambda *_: changed_rows.append("inserted"))
    model.apply(TorrentDiff(changed=(torrent(3, down_rate=5.0), torrent(7, down_rate=6.0))))
    assert changed_rows == [(3, 3), (7, 7)]


def test_adjacent_changes_share_one_signal():
    model = _model_with(10)
    runs = []
    model.dataChanged.connect(lambda top, bottom: runs.append((top.row(), bottom.row())))
    model.apply(TorrentDiff(changed=tuple(torrent(i, eta=1.0) for i in (4, 2, 3))))
    assert runs == [(2, 4)]


def test_additions_and_removals_insert_and_remove_rows():
    model = _model_with(5)
    events = []
    model.rowsInserted.connect(lambda _p, first, last: events.append(("insert", first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: events.append(("remove", first, last)))
    model.apply(
        TorrentDiff(
            added=(torrent(8), torrent(9)), removed=(torrent(1).info_hash, torrent(2).info_hash)
        )
    )
    assert events == [("remove", 1, 2), ("insert", 3, 4)]
    assert _names(model) == ["Torrent 0", "Torrent 3", "Torrent 4", "Torrent 8", "Torrent 9"]


def test_sorting_follows_changes_and_keeps_the_selection():
    model = _model_with(3)
    model.sort(TorrentColumn.DOWN, Qt.SortOrder.DescendingOrder)
    selected = QPersistentModelIndex(model.index(model.row_of(torrent(1).info_hash), 0))
    model.apply(TorrentDiff(changed=(torrent(1, down_rate=9e6), torrent(2, down_rate=5e6))))
    assert _names(model) == ["Torrent 1", "Torrent 2", "Torrent 0"]
    assert selected.row() == 0 and selected.data() == "Torrent 1"


def test_category_and_search_filter_rows():
    model = _model_with(3)
    paused = torrent(1, reason=StopReason.USER, name="Debian netinst")
    model.apply(TorrentDiff(changed=(paused,)))
    model.set_category(StateFilter.PAUSED)
    assert _names(model) == ["Debian netinst"]
    model.set_category(StateFilter.ALL)
    model.set_search_text("  torrent   2 ")
    assert _names(model) == ["Torrent 2"]
    model.set_search_text("")
    assert len(_names(model)) == 3


def test_a_row_leaves_the_filter_when_its_state_changes():
    model = _model_with(2)
    model.set_category(StateFilter.DOWNLOADING)
    model.apply(TorrentDiff(changed=(torrent(0, state=TorrentState.SEEDING, progress=1.0),)))
    assert _names(model) == ["Torrent 1"]
    model.set_category(StateFilter.SEEDING)
    assert _names(model) == ["Torrent 0"]


def test_error_rows_explain_themselves_in_a_tooltip():
    model = _model_with(1)
    broken = torrent(0, reason=StopReason.ERROR, error="Disk full.", status_text="Error: Disk full.")
    model.apply(TorrentDiff(changed=(broken,)))
    assert (
        model.index(0, TorrentColumn.NAME).data(Qt.ItemDataRole.ToolTipRole)
        == "Torrent 0\nDisk full."
    )
    assert model.index(0, TorrentColumn.STATUS).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_a_stopped_row_says_why_where_it_stood_and_what_it_waits_for():
    model = _model_with(2)
    goal = torrent(0, state=TorrentState.SEEDING, reason=StopReason.SEEDING_GOAL, status_text="Seeding goal reached")
    model.apply(TorrentDiff(changed=(goal,)))
    status = model.index(0, TorrentColumn.STATUS)
    assert status.data() == "Seeding goal reached"
    assert status.data(Qt.ItemDataRole.ToolTipRole) == (
        "Seeding goal reached\nStopped while seeding. It has shared as much as its seeding goal asks; "
        "raise the goal in Torrent options to seed on."
    )
    running = model.index(1, TorrentColumn.STATUS)
    assert running.data(Qt.ItemDataRole.ToolTipRole) == "Downloading"  # a running row: the line alone
    assert status.data(Qt.ItemDataRole.ForegroundRole) is None  # red is for errors only


def test_a_running_row_says_what_limits_its_speed():
    model = _model_with(1)
    why = Cause(CauseKind.DISK, "The disk cannot keep up", "16 MiB unwritten of 16 MiB", "Save to a faster disk")
    model.apply(TorrentDiff(changed=(torrent(0, why=why),)))
    assert model.index(0, TorrentColumn.STATUS).data(Qt.ItemDataRole.ToolTipRole) == (
        "Downloading\nThe disk cannot keep up (16 MiB unwritten of 16 MiB).\nSave to a faster disk."
    )


def test_a_tick_over_a_thousand_torrents_touches_only_changed_rows():
    before = {t.info_hash: t for t in (torrent(i) for i in range(1000))}
    model = TorrentListModel()
    model.apply(diff_torrents({}, before.values()))
    after = [
        replace(t, down_rate=7.0) if i % 100 == 0 else t for i, t in enumerate(before.values())
    ]
    rows = []
    model.dataChanged.connect(lambda top, bottom: rows.extend(range(top.row(), bottom.row() + 1)))
    model.apply(diff_torrents(before, after))
    assert rows == list(range(0, 1000, 100))


def test_a_sorted_tick_over_ten_thousand_rows_sorts_in_only_the_changed_ones(monkeypatch):
    """Issue 19: 100 of 10,000 rows change their speed; the list stays sorted by speed, and only
    those 100 have their sort key computed (a full sort would compute 10,000)."""
    rng = random.Random(3)
    before = {t.info_hash: t for t in (torrent(i, down_rate=float(rng.randrange(50))) for i in range(10_000))}
    model = TorrentListModel()
    model.sort(TorrentColumn.DOWN, Qt.SortOrder.DescendingOrder)
    model.apply(diff_torrents({}, before.values()))
    selected = QPersistentModelIndex(model.index(5, 0))
    selected_name = selected.data()
    moving = set(rng.sample(sorted(before), 100))
    after = [replace(t, down_rate=float(rng.randrange(50))) if h in moving else t for h, t in before.items()]
    keyed = []
    column = TorrentColumn.DOWN
    key = model._columns[column].sort_key
    monkeypatch.setattr(model, "_columns", tuple(
        replace(c, sort_key=lambda t: keyed.append(t) or key(t)) if n == column else c
        for n, c in enumerate(model._columns)
    ))
    model.apply(diff_torrents(before, after))
    rates = [model.item(row).down_rate for row in range(model.rowCount())]
    assert rates == sorted(rates, reverse=True) and model.rowCount() == 10_000
    assert {t.info_hash for t in keyed} <= moving and len(keyed) <= 100
    assert selected.data() == selected_name  # the selection follows its row
    assert all(model.row_of(model.item(row).info_hash) == row for row in range(model.rowCount()))


def test_size_is_what_the_user_wants_and_the_tooltip_gives_the_total():
    model = TorrentListModel()
    model.apply(TorrentDiff(added=(torrent(0), torrent(1, wanted_size=3 * 2**20))))
    whole, part = (model.index(row, TorrentColumn.SIZE) for row in (0, 1))
    assert (whole.data(), part.data()) == ("4.0 MiB", "3.0 MiB")
    assert whole.data(Qt.ItemDataRole.ToolTipRole) is None
    assert part.data(Qt.ItemDataRole.ToolTipRole) == "3.0 MiB chosen of 4.0 MiB in all"
    model.sort(TorrentColumn.SIZE, Qt.SortOrder.AscendingOrder)
    assert _names(model) == ["Torrent 1", "Torrent 0"]


class _CountingModel(TorrentListModel):
    def __init__(self) -> None:
        super().__init__()
        self.tested = 0

    def accepts(self, item):  # type: ignore[no-untyped-def]
        self.tested += 1
        return super().accepts(item)


def test_typing_on_in_the_search_tests_only_the_rows_shown():
    model = _CountingModel()
    model.apply(diff_torrents({}, [torrent(i) for i in range(10_000)]))
    model.set_search_text("torrent 12")
    shown = model.rowCount()
    model.tested = 0
    model.set_search_text("torrent 123")
    assert shown == 299  # the numbers below 10,000 that hold "12"
    assert model.tested == shown
    assert model.rowCount() == 20  # 123, 1230-1239, 1123, 2123 ... 9123
    model.set_search_text("torrent")  # wider: every row is asked again
    assert model.rowCount() == 10_000


def test_a_repaint_asks_each_row_for_its_texts_once_per_snapshot(monkeypatch):
    """Issue 19: a view asks for every cell at each paint; the row's texts are made once."""
    model = _model_with(3)
    made = []
    monkeypatch.setattr(model, "_columns", tuple(
        replace(c, text=lambda t, text=c.text: made.append(t.name) or text(t)) for c in model._columns
    ))
    for _ in range(5):  # five repaints
        assert [model.index(1, column).data() for column in TorrentColumn][0] == "Torrent 1"
    assert made == ["Torrent 1"] * len(TorrentColumn)
    model.apply(TorrentDiff(changed=(torrent(1, down_rate=9e6),)))
    assert model.index(model.row_of(torrent(1).info_hash), TorrentColumn.DOWN).data() == "8.6 MiB/s"
    assert made == ["Torrent 1"] * len(TorrentColumn) * 2
