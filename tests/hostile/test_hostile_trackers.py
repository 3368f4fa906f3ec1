"""Broken and hostile trackers on 127.0.0.6: the torrent goes on with an honest tracker and
shows each bad one's reason."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from app.engine.creator import create_torrent
from app.engine.snapshots import TorrentSnapshot, TorrentState
from app.engine.tracker import manager as manager_module
from app.engine.tracker import udp_codec
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.udp_client import UdpTrackerClient
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, torrent_snapshot, wait_for_state

HOST = "127.0.0.6"
HTTP_REASONS = {
    "garbage": "tracker sent a malformed response",
    "loop": "too many redirects",
    "huge": "tracker response too large",
    "silent": "timed out",
}
UDP_REASONS = {"wrong-id": "timed out", "truncated": "truncated tracker response"}


class HostileHttpTracker:
    """/garbage, /loop, /huge and /silent announce URLs, each broken its own way."""

    def __init__(self) -> None:
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self._never = asyncio.Event()
        self.base = ""

    async def start(self) -> None:
        app = web.Application()
        for name, handler in (
            ("garbage", self._garbage), ("loop", self._loop), ("huge", self._huge), ("silent", self._silent)
        ):
            app.router.add_get(f"/{name}/announce", handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.base = f"http://{HOST}:{self._runner.addresses[0][1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}/announce"

    async def close(self) -> None:
        self._never.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _garbage(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.Response(body=b"<html>d8:intervali60e5:peers</html>")

    async def _loop(self, request: web.Request) -> web.Response:
        self.requests += 1
        raise web.HTTPFound(f"/loop/announce?{request.query_string}")

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        """An endless chunked body with no length: the client must stop reading by itself."""
        self.requests += 1
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"d8:intervali60e5:peers" + bytes(64 * 1024)
        while not self._never.is_set():
            await response.write(chunk)
        return response

    async def _silent(self, request: web.Request) -> web.Response:
        self.requests += 1
        await self._never.wait()
        return web.Response()


class HostileUdpTracker(asyncio.DatagramProtocol):
    """Answers every datagram wrongly: a connect reply for another transaction, or 5 bytes."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.datagrams = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams += 1
        transaction_id = int.from_bytes(data[12:16], "big")
        reply = udp_codec.encode(udp_codec.ConnectReply((transaction_id + 1) % 2**32, 42))
        assert self.transport is not None
        self.transport.sendto(reply if self.mode == "wrong-id" else reply[:5], addr)

    @property
    def url(self) -> str:
        assert self.transport is not None
        return f"udp://{HOST}:{self.transport.get_extra_info('sockname')[1]}/announce"


@pytest.fixture
def short_tracker_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "HttpTrackerClient", functools.partial(HttpTrackerClient, timeout=1.0))
    monkeypatch.setattr(
        manager_module,
        "UdpTrackerClient",
        lambda url, retry_base, **kwargs: UdpTrackerClient(url, retry_base=0.2, max_attempts=2, **kwargs),
    )


@pytest.fixture
async def bad_trackers() -> AsyncIterator[dict[str, str]]:
    """Every hostile tracker's URL by name."""
    http = HostileHttpTracker()
    await http.start()
    loop = asyncio.get_running_loop()
    udp = {mode: HostileUdpTracker(mode) for mode in UDP_REASONS}
    for protocol in udp.values():
        await loop.create_datagram_endpoint(lambda p=protocol: p, local_addr=(HOST, 0))  # type: ignore[misc]
    yield {name: http.url(name) for name in HTTP_REASONS} | {name: p.url for name, p in udp.items()}
    await http.close()
    for protocol in udp.values():
        assert protocol.transport is not None
        protocol.transport.close()


def _messages(snapshot: TorrentSnapshot, urls: dict[str, str]) -> dict[str, str]:
    by_url = {tracker.url: tracker for tracker in snapshot.trackers}
    return {name: by_url[url].message for name, url in urls.items() if by_url[url].status == "error"}


@pytest.mark.usefixtures("short_tracker_timeouts")
async def test_hostile_trackers_are_passed_over_for_an_honest_one(
    tmp_path: Path, bad_trackers: dict[str, str],
) -> None:
    honest = TrackerServer(interval=60)
    await honest.start("127.0.0.1")
    payload = random_tree(tmp_path / "seed" / "p", {"data.bin": 100_000})
    tiers = [[url] for url in bad_trackers.values()] + [[honest.http_url]]  # BEP 12: tier by tier
    torrent = create_torrent(payload, trackers=tiers, piece_length=16384)
    try:
        async with running_session() as seed, running_session() as leecher:
            info_hash = await seed.add_torrent(torrent, payload.parent)
            await wait_for_state(seed, info_hash, TorrentState.SEEDING)
            await leecher.add_torrent(torrent, tmp_path / "out")
            snapshot = await wait_for_state(leecher, info_hash, TorrentState.SEEDING, timeout=30)
    finally:
        await honest.close()
    assert_same_files(payload.parent, tmp_path / "out", ["p/data.bin"])
    assert _messages(snapshot, bad_trackers) == HTTP_REASONS | UDP_REASONS
    honest_row = snapshot.trackers[-1]
    # It answered (the 'completed' announce may be in flight at this moment: "announcing").
    assert honest_row.last_announce is not None and honest_row.message == ""
    assert honest_row.status in ("working", "announcing")


@pytest.mark.usefixtures("short_tracker_timeouts")
async def test_with_only_hostile_trackers_the_status_says_why(
    tmp_path: Path, bad_trackers: dict[str, str],
) -> None:
    payload = random_tree(tmp_path / "seed" / "p", {"data.bin": 20_000})
    torrent = create_torrent(payload, trackers=[[bad_trackers["truncated"]]], piece_length=16384)
    async with running_session() as leecher:
        info_hash = await leecher.add_torrent(torrent, tmp_path / "out")
        async with asyncio.timeout(10):
            while "truncated" not in (snapshot := torrent_snapshot(leecher, info_hash)).status_text:
                await asyncio.sleep(0.05)
    assert snapshot.state == TorrentState.DOWNLOADING
    assert snapshot.status_text == "Downloading — Tracker: truncated tracker response"
