"""The schedule behind the feeds, the watched folders and the controls: steps run, failures are
logged and do not end it, closing stops it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.engine.ticker import Ticker

log = logging.getLogger(__name__)
GUARD = 10.0  # fails a test that would hang; the steps come much sooner


async def test_a_failed_step_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    second = asyncio.Event()
    steps: list[int] = []

    async def step() -> None:
        steps.append(len(steps))
        if len(steps) == 1:
            raise OSError("the folder went away")
        second.set()

    ticker = Ticker(step, lambda: 0.0, log, "scanning failed")
    ticker.start()
    try:
        async with asyncio.timeout(GUARD):
            await second.wait()
    finally:
        await ticker.close()
    assert [r.message for r in caplog.records if r.name == __name__][:1] == ["scanning failed"]
    assert "the folder went away" in caplog.text


async def test_at_once_runs_the_first_step_before_any_wait() -> None:
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    ticker = Ticker(step, lambda: 3600.0, log, "refreshing failed", at_once=True)
    ticker.start()
    try:
        async with asyncio.timeout(GUARD):
            await ran.wait()
    finally:
        await ticker.close()


async def test_without_at_once_the_first_step_waits_an_interval() -> None:
    waited: list[float] = []

    def interval() -> float:
        waited.append(3600.0)
        return 3600.0

    async def step() -> None:
        raise AssertionError("a step ran before its interval")

    ticker = Ticker(step, interval, log, "ticking failed")
    ticker.start()
    async with asyncio.timeout(GUARD):
        while not waited:  # the task asks for the interval before it sleeps
            await asyncio.sleep(0)
    await ticker.close()
    assert waited == [3600.0]


async def test_close_ends_the_task_and_a_second_close_is_harmless() -> None:
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1

    ticker = Ticker(step, lambda: 0.0, log, "ticking failed")
    ticker.start()
    async with asyncio.timeout(GUARD):
        while calls < 3:
            await asyncio.sleep(0)
    await ticker.close()
    stopped_at = calls
    for _ in range(5):
        await asyncio.sleep(0)
    await ticker.close()
    assert calls == stopped_at
