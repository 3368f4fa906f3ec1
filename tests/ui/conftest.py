from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.engine.session import Session, SessionConfig
from app.ui.bridge import EngineBridge
from app.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> QApplication:
    """Icons and pixmaps need a QApplication, even in tests that never show a widget."""
    return qapp


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    """A real engine session on loopback, saving under tmp_path."""
    config = SessionConfig(
        listen_host="127.0.0.1", listen_port=0, download_dir=tmp_path / "downloads"
    )
    engine = Session(config)
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(session: Session, settings: QSettings, qtbot) -> Iterator[MainWindow]:
    """The main window over the real `session`, shown offscreen."""
    main = MainWindow(EngineBridge(session), settings)
    qtbot.addWidget(main)
    main.show()
    yield main
    main.bridge.stop()  # no timer of this test may fire during the next one
