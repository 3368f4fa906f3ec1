"""A step run every so many seconds in a task of its own until closed: the schedule behind the
feeds' refresh, the watched folders' scan and the session's controls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


class Ticker:
    """Runs `step` every `interval()` seconds (asked each round, so a new setting applies at the
    next one); `at_once` runs the first step on start. A step that fails is logged under
    `failure` on the owner's `log`, and the schedule goes on."""

    def __init__(self, step: Callable[[], Awaitable[object]], interval: Callable[[], float],
                 log: logging.Logger, failure: str, *, at_once: bool = False) -> None:
        self._step, self._interval = step, interval
        self._log, self._failure = log, failure
        self._at_once = at_once
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        if self._at_once:
            await self._guarded()
        while True:
            await asyncio.sleep(self._interval())
            await self._guarded()

    async def _guarded(self) -> None:
        try:
            await self._step()
        except Exception:  # a task boundary: one bad round must not end the schedule
            self._log.exception(self._failure)
