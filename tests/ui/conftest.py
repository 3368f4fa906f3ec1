"""UI tests: async tests run on a qasync loop, as the GUI does.

Inside a coroutine never call qtbot.waitSignal/waitUntil: they spin a nested Qt loop under
the running one. Await a future connected to the signal instead.
"""

import gc
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QEvent, QSettings
from PySide6.QtWidgets import QApplication

from app.engine.session import Session, SessionConfig
from app.ui.bridge import EngineBridge
from app.ui.main_window import MainWindow
from app.ui.single_instance import INSTANCE_ENV

ROOT = Path(__file__).resolve().parents[2]
Launch = Callable[[str, list[str], Path], subprocess.Popen[bytes]]


def _qasync_loop() -> qasync.QEventLoop:
    # The last test's loop and widgets are garbage by now: free them here, on the GUI
    # thread. Left to chance, a worker thread would collect them and destroy Qt objects
    # off-thread, and Qt would later fire a timer of a deleted object (app/ui/collector.py).
    gc.collect()
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    # As in the app (app/ui/app.py): plain threads for asyncio.to_thread.
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="io"))
    return loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], qasync.QEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> Iterator[QApplication]:
    """Icons and pixmaps need a QApplication, even in tests that never show a widget.

    Afterwards, the test's Qt garbage is collected here, on the GUI thread (see
    app/ui/collector.py).
    """
    yield qapp
    gc.collect()


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    """A real engine session on loopback, saving under tmp_path."""
    config = SessionConfig(
        listen_host="127.0.0.1",
        listen_port=0,
        download_dir=tmp_path / "downloads",
        enable_dht=False,
        enable_lsd=False,  # loopback only
        port_mapping=False,
    )
    engine = Session(config)
    await engine.start()
    yield engine
    await engine.close()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(session: Session, settings: QSettings) -> Iterator[MainWindow]:
    """The main window over the real `session`, shown offscreen.

    Torn down here rather than by qtbot, in this order: the bridge's timers stop, then the
    window is deleted at once, not later inside the next test's event loop.
    """
    main = MainWindow(EngineBridge(session), settings)
    main.show()
    yield main
    main.bridge.stop()
    main.close()
    main.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def launch() -> Iterator[Launch]:
    """Run `python -m app ARGUMENTS` as a second launch would, talking to a named instance.

    A launch that found no instance would open a window of its own: teardown ends it.
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(instance: str, arguments: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        env = {**os.environ, INSTANCE_ENV: instance, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *arguments],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
