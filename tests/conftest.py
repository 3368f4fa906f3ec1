"""Test-wide setup: Qt runs offscreen, and async tests run on a qasync loop.

The GUI runs the engine on a qasync loop, so every async test (engine ones too) runs
there as well. Inside a coroutine never call qtbot.waitSignal/waitUntil: they spin a
nested Qt loop under the running one. Await a future connected to the signal instead.
"""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"

from collections.abc import Callable, Mapping

import pytest
import qasync
from PySide6.QtWidgets import QApplication


def _qasync_loop() -> qasync.QEventLoop:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], qasync.QEventLoop]]:
    return {"qasync": _qasync_loop}
