import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from app.engine.tracker.server import TrackerServer
from tests.swarm_helpers import running_tracker


@pytest.fixture
async def tracker_server() -> AsyncIterator[TrackerServer]:
    async with running_tracker("127.0.0.1", interval=1800) as server:
        yield server


@pytest.fixture
async def ipv6_tracker() -> AsyncIterator[TrackerServer]:
    async with running_tracker("::1", interval=1800) as server:
        yield server


@pytest.fixture
def silent_udp() -> Iterator[socket.socket]:
    """A bound UDP socket that never answers: a dead tracker."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        yield sock
