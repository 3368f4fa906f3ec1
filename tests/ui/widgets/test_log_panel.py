import logging

import pytest

from app.ui.app_log import close_log, open_log
from app.ui.widgets.log_panel import LogPanel


@pytest.fixture
def app_log(tmp_path):
    app = logging.getLogger("app")
    before = app.level
    log = open_log(tmp_path, "INFO")
    yield log
    close_log(log)
    app.setLevel(before)


def test_the_log_tab_shows_what_the_engine_logs(qtbot, app_log, tmp_path):
    panel = LogPanel(app_log)
    qtbot.addWidget(panel)
    panel.show()
    logging.getLogger("app.engine.peer").info("closing 127.0.0.5:6881 (Transmission 4.0.5): bad data")
    logging.getLogger("app.engine.peer").debug("not recorded")
    panel.refresh()
    messages = [panel.model.entry(row).message for row in range(panel.model.rowCount())]
    assert messages[-1] == "closing 127.0.0.5:6881 (Transmission 4.0.5): bad data"
    assert "not recorded" not in messages
    assert panel.recording_label.text() == (
        f"Recording information, warnings and errors in {tmp_path / 'piecemeal.log'}"
    )
    assert panel.open_button.isVisible()


def test_the_filter_shows_only_warnings_and_errors(qtbot, app_log):
    panel = LogPanel(app_log)
    qtbot.addWidget(panel)
    logging.getLogger("app.engine.torrent").info("an ordinary day")
    logging.getLogger("app.engine.torrent").warning("torrent x: disk full")
    panel.filter_box.setCurrentIndex(panel.filter_box.findText("Warnings and errors"))
    messages = [panel.model.entry(row).message for row in range(panel.model.rowCount())]
    assert messages == ["torrent x: disk full"]
