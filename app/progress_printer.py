"""How piecemeal-cli shows progress: on a terminal, in a pipe or a log file, or not at all.

On a terminal one line is rewritten in place (a carriage return, no terminal codes). In a pipe
or a log a reader wants whole lines: a plain line every few seconds, and one whenever the
state changes, so a log shows "checking", "downloading", "seeding" as they happen. With
--quiet nothing is shown; errors still go to stderr, elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Final, TextIO

PLAIN_EVERY: Final = 5.0  # seconds between two progress lines in a pipe or a log
TERMINAL_WIDTH: Final = 100  # a shorter line overwrites all of a longer one before it


class ProgressPrinter:
    def __init__(self, stream: TextIO, *, quiet: bool, clock: Callable[[], float]) -> None:
        self._stream = stream
        self.quiet = quiet  # others with something to say (the CLI's notes) keep quiet too
        self._clock = clock
        self._last_at: float | None = None
        self._last_state: Hashable = None
        self._line_open = False  # a terminal line still waits for its newline
        mode = "quiet" if quiet else "terminal" if stream.isatty() else "plain"
        self._write: Callable[[str, Hashable, bool], None] = {
            "quiet": lambda line, state, final: None,
            "terminal": self._rewrite,
            "plain": self._append,
        }[mode]

    def show(self, line: str, state: Hashable, *, final: bool = False) -> None:
        """The torrent's progress now; `final`: the last word, always shown."""
        self._write(line, state, final)

    def close(self) -> None:
        """End the terminal's open line, so the shell prompt starts on a line of its own."""
        if self._line_open:
            self._stream.write("\n")
            self._stream.flush()
            self._line_open = False

    def _rewrite(self, line: str, state: Hashable, final: bool) -> None:
        self._stream.write(f"\r{line:<{TERMINAL_WIDTH}}")
        self._stream.flush()
        self._line_open = True

    def _append(self, line: str, state: Hashable, final: bool) -> None:
        now = self._clock()
        due = self._last_at is None or now - self._last_at >= PLAIN_EVERY
        if not (due or final or state != self._last_state):
            return
        self._stream.write(line.rstrip() + "\n")
        self._stream.flush()
        self._last_at, self._last_state = now, state
