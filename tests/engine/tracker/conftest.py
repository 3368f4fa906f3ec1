from collections.abc import AsyncIterator

import pytest

from app.engine.tracker.server import TrackerServer


@pytest.fixture
async def tracker_server() -> AsyncIterator[TrackerServer]:
    server = TrackerServer(interval=1800)
    await server.start(host="127.0.0.1")
    yield server
    await server.close()
