from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.engine.session import Session, SessionConfig


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> QApplication:
    """Icons and pixmaps need a QApplication, even in tests that never show a widget."""
    return qapp


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    """A real engine session on loopback, saving under tmp_path."""
    config = SessionConfig(listen_host="127.0.0.1", listen_port=0, download_dir=tmp_path / "downloads")
    engine = Session(config)
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
