import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from app.ui.log_buffer import LogBuffer
from app.ui.models.log import LogColumn, LogModel, level_colour, source_name


def _record(buffer: LogBuffer, level: int, message: str, name: str = "app.engine.peer") -> None:
    buffer.handle(logging.LogRecord(name, level, __file__, 1, message, (), None))


@pytest.fixture
def buffer() -> LogBuffer:
    buffer = LogBuffer(capacity=4)
    _record(buffer, logging.DEBUG, "sent 3 requests")
    _record(buffer, logging.INFO, "closing 127.0.0.5:6881 (Transmission 4.0.5): bad data")
    _record(buffer, logging.WARNING, "torrent x: disk full", "app.engine.torrent")
    return buffer


def test_passes_qtmodeltester(qtmodeltester, buffer):
    model = LogModel(buffer)
    model.set_minimum_level(logging.DEBUG)
    qtmodeltester.check(model, force_py=True)


def _messages(model: LogModel) -> list[str]:
    return [model.index(row, LogColumn.MESSAGE).data() for row in range(model.rowCount())]


def test_rows_show_time_level_source_and_message(buffer):
    model = LogModel(buffer)
    model.set_minimum_level(logging.INFO)
    assert [model.index(0, c).data() for c in LogColumn][1:] == [
        "Info", "engine.peer", "closing 127.0.0.5:6881 (Transmission 4.0.5): bad data"
    ]
    assert len(model.index(0, LogColumn.TIME).data()) == len("12:34:56")
    assert not model.index(0, LogColumn.LEVEL).data(Qt.ItemDataRole.DecorationRole).isNull()
    assert "app.engine.peer" in model.index(0, LogColumn.MESSAGE).data(Qt.ItemDataRole.ToolTipRole)


def test_the_filter_hides_what_is_below_it(buffer):
    model = LogModel(buffer)
    model.set_minimum_level(logging.DEBUG)
    assert model.rowCount() == 3
    model.set_minimum_level(logging.WARNING)
    assert _messages(model) == ["torrent x: disk full"]


def test_a_refresh_appends_only_the_new_rows_and_never_holds_more_than_the_buffer(qtbot, buffer):
    model = LogModel(buffer)
    model.set_minimum_level(logging.DEBUG)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    assert model.refresh() == 0
    _record(buffer, logging.ERROR, "one")
    _record(buffer, logging.DEBUG, "two")
    assert model.refresh() == 2
    assert inserted == [(3, 4)]
    assert _messages(model) == [
        "closing 127.0.0.5:6881 (Transmission 4.0.5): bad data", "torrent x: disk full", "one", "two"
    ]
    model.set_minimum_level(logging.ERROR)
    _record(buffer, logging.INFO, "not shown")
    assert model.refresh() == 0 and _messages(model) == ["one"]


@pytest.mark.parametrize(("base", "error"), [("#ffffff", "#c62828"), ("#202020", "#ff7b72")])
def test_levels_have_colours_that_read_on_light_and_dark(base, error):
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Base, QColor(base))
    assert level_colour(logging.ERROR, palette) == QColor(error)
    assert level_colour(logging.CRITICAL, palette) == QColor(error)
    assert level_colour(logging.INFO, palette) == palette.color(QPalette.ColorRole.Text)
    assert level_colour(logging.DEBUG, palette) == palette.color(QPalette.ColorRole.PlaceholderText)


def test_our_own_prefix_is_left_out_of_the_source():
    assert source_name("app.engine.peer") == "engine.peer"
    assert source_name("aiohttp.client") == "aiohttp.client"
