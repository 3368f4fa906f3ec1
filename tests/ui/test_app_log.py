import logging

import pytest

from app.ui.app_log import BACKUPS, FILE_NAME, close_log, open_log, recording_level, set_level


@pytest.fixture(autouse=True)
def _app_level():
    """These tests change the `app` logger's level: give it back."""
    app = logging.getLogger("app")
    before = app.level
    yield
    app.setLevel(before)


def test_the_log_goes_to_a_rotating_file_in_the_profile_and_to_the_buffer(tmp_path):
    log = open_log(tmp_path / "profile", "INFO")
    try:
        logging.getLogger("app.engine.peer").info("closing %s: %s", "127.0.0.5:1", "bad data")
        logging.getLogger("app.engine.peer").debug("not recorded at INFO")
    finally:
        close_log(log)
    assert log.path == tmp_path / "profile" / FILE_NAME
    text = log.path.read_text(encoding="utf-8")
    assert "INFO app.engine.peer: closing 127.0.0.5:1: bad data" in text
    assert "not recorded" not in text
    assert [e.message for e in log.buffer.after(0)] == ["closing 127.0.0.5:1: bad data"]
    handlers = logging.getLogger().handlers
    assert log.buffer not in handlers
    assert not any(getattr(h, "baseFilename", None) == str(log.path) for h in handlers)


def test_the_file_rotates_and_keeps_a_bounded_number_of_old_ones(tmp_path, monkeypatch):
    monkeypatch.setattr("app.ui.app_log.MAX_BYTES", 10_000)
    log = open_log(tmp_path, "INFO")
    try:
        for n in range(200):
            logging.getLogger("app.engine.torrent").info("record %d %s", n, "x" * 500)
    finally:
        close_log(log)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [FILE_NAME] + [f"{FILE_NAME}.{n}" for n in range(1, BACKUPS + 1)]
    assert all(p.stat().st_size <= 10_000 for p in tmp_path.iterdir())
    assert "record 199 " in (tmp_path / FILE_NAME).read_text(encoding="utf-8")


def test_the_level_from_preferences_applies_at_once(tmp_path):
    log = open_log(tmp_path, "WARNING")
    try:
        assert recording_level() == logging.WARNING
        logging.getLogger("app.engine.session").info("quiet")
        set_level("DEBUG")
        logging.getLogger("app.engine.session").debug("now recorded")
        set_level("LOUD")  # not a level: the default
        assert recording_level() == logging.INFO
    finally:
        close_log(log)
    assert [e.message for e in log.buffer.after(0)] == ["now recorded"]


def test_a_profile_that_cannot_hold_a_file_still_gives_the_log_tab(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    log = open_log(blocker / "profile", "INFO")
    try:
        logging.getLogger("app.ui").warning("still kept")
    finally:
        close_log(log)
    assert log.path is None and "cannot write" in log.problem and "a-file" in log.problem
    assert [e.message for e in log.buffer.after(0)][-1] == "still kept"
