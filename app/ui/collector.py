"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate, such as the
engine's disk threads; a Qt object freed there is destroyed on the wrong thread, and Qt
may then fire a timer of an object that no longer exists. Collecting from a GUI timer
keeps every Qt destructor on the GUI thread.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_INTERVAL_MS = 1000


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threshold = gc.get_threshold()[0]
        self._timer = QTimer(self)
        self._timer.setInterval(_INTERVAL_MS)
        self._timer.timeout.connect(self.collect)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()

    def collect(self) -> None:
        """Collect the generations that automatic collection would have collected by now."""
        young, middle, old = gc.get_count()
        if old > gc.get_threshold()[2]:
            gc.collect(2)
        elif middle > gc.get_threshold()[1]:
            gc.collect(1)
        elif young > self._threshold:
            gc.collect(0)
