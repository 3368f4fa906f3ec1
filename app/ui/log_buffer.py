"""The last few thousand log records, kept in memory for the Log tab.

A logging.Handler: any thread may log (the engine's disk threads do), and `emit` runs under
the handler's lock. The Log tab reads on the GUI thread, on its own timer, only the records
after the last one it has (as Picard's log view does), so logging never touches Qt.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Final

CAPACITY: Final = 2000


@dataclass(frozen=True, slots=True)
class LogEntry:
    number: int  # counts every record this buffer took, from 1: readers ask for those after n
    created: float  # time.time() of the record
    level: int  # logging.INFO ...
    source: str  # the logger's name, e.g. app.engine.peer
    message: str
    detail: str  # the traceback, when the record carries one


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__()
        self._formatter = logging.Formatter()  # for its formatException
        self.capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)
        self._count = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            detail = self._formatter.formatException(record.exc_info) if record.exc_info else ""
        except Exception:  # a bad format string in someone's log call must not break logging
            self.handleError(record)
            return
        self._count += 1
        self._entries.append(
            LogEntry(self._count, record.created, record.levelno, record.name, message, detail)
        )

    def after(self, number: int) -> list[LogEntry]:
        """The records kept whose number is above `number` (0: all of them), oldest first."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            if not self._entries or self._entries[-1].number <= number:
                return []
            skip = max(0, number - self._entries[0].number + 1)
            return list(self._entries)[skip:]
