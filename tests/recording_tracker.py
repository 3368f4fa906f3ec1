"""Our embedded tracker on loopback for tests that run the client as another process: it serves
from its own thread (the test itself need not be async) and remembers every announce it got."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.engine.tracker.registry import SwarmPeer, SwarmRegistry
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, ScrapeEntry

TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class HeardAnnounce:
    info_hash: bytes
    ip: str
    port: int
    left: int
    event: AnnounceEvent


class RecordingRegistry(SwarmRegistry):
    """The real swarm memory, plus the list of announces it was given (HTTP and UDP alike)."""

    def __init__(self, *, peer_ttl: float) -> None:
        super().__init__(peer_ttl=peer_ttl)
        self._heard: list[HeardAnnounce] = []
        self._lock = threading.Lock()

    def announce(self, info_hash: bytes, peer: SwarmPeer, event: AnnounceEvent, numwant: int, now: float,
                 family: int | None = None) -> tuple[list[SwarmPeer], ScrapeEntry]:
        with self._lock:
            self._heard.append(HeardAnnounce(info_hash, peer.ip, peer.port, peer.left, event))
        return super().announce(info_hash, peer, event, numwant, now, family)

    def heard(self, info_hash: bytes, address: tuple[str, int]) -> list[HeardAnnounce]:
        """The announces for `info_hash` from the peer at `address` (ip, listen port), oldest first."""
        with self._lock:
            return [heard for heard in self._heard if (heard.info_hash, heard.ip, heard.port) == (info_hash, *address)]


@contextmanager
def tracker_in_thread(host: str = "127.0.0.1", interval: int = 60) -> Iterator[tuple[TrackerServer, RecordingRegistry]]:
    """The tracker and what it heard; closed, and its thread joined, on exit."""
    registry = RecordingRegistry(peer_ttl=2.0 * interval)
    tracker = TrackerServer(interval=interval, registry=registry)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="tracker", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(tracker.start(host), loop).result(TIMEOUT)
        yield tracker, registry
    finally:
        asyncio.run_coroutine_threadsafe(tracker.close(), loop).result(TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()
