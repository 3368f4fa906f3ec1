"""BEP 7: the manager announces once over each address family and merges what it hears."""

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.engine.sockets import Sockets
from app.engine.tracker.manager import FixedNetwork, TrackerManager
from app.engine.tracker.server import TrackerServer
from tests.engine.tracker.test_manager import INFO_HASH, Peer, eventually

DUAL_NAME = "dual-stack.test"  # resolved by the test to 127.0.0.1 and ::1 only


def manager(url: str, n: int, peers: list[list[Peer]], sockets: Sockets = Sockets()) -> TrackerManager:
    return TrackerManager(
        [[url]],
        info_hashes=[INFO_HASH],
        peer_id=b"-PM0001-%012d" % n,
        network=FixedNetwork(7000 + n, sockets=sockets),
        stats=lambda: (0, 0, 1000),
        on_peers=peers.append,
        rng=random.Random(n),
        udp_retry_base=0.05,
    )


@pytest.fixture
async def twin_trackers() -> AsyncIterator[tuple[TrackerServer, TrackerServer]]:
    """Two trackers at one port, one on 127.0.0.1 and one on ::1: a name with A and AAAA records."""
    v4, v6 = TrackerServer(interval=1800), TrackerServer(interval=1800)
    await v4.start(host="127.0.0.1")
    http_port, udp_port = urlsplit(v4.http_url).port, urlsplit(v4.udp_url).port
    await v6.start(host="::1", http_port=http_port or 0, udp_port=udp_port or 0)
    yield v4, v6
    await v4.close()
    await v6.close()


@pytest.fixture
async def dual_stack_name(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    resolve = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *, family: int = 0, **kwargs: Any) -> Any:
        if host != DUAL_NAME:
            return await resolve(host, port, family=family, **kwargs)
        hosts = {socket.AF_INET: ["127.0.0.1"], socket.AF_INET6: ["::1"]}.get(family, ["127.0.0.1", "::1"])
        return [info for h in hosts for info in await resolve(h, port, family=family, **kwargs)]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


async def _announced(url: str, n: int, sockets: Sockets = Sockets()) -> tuple[TrackerManager, list[list[Peer]]]:
    peers: list[list[Peer]] = []
    made = manager(url, n, peers, sockets)
    made.start()
    await eventually(lambda: next(t.status for t in made.snapshot()) in ("working", "error"))
    return made, peers


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_an_ipv6_tracker_hands_out_ipv6_peers(kind: str, ipv6_tracker: TrackerServer) -> None:
    url = ipv6_tracker.http_url if kind == "http" else ipv6_tracker.udp_url
    first, _ = await _announced(url, 1)
    second, peers = await _announced(url, 2)
    try:
        await eventually(lambda: peers)
        assert peers == [[("::1", 7001)]]
    finally:
        await first.stop(timeout=1.0)
        await second.stop(timeout=1.0)


@pytest.mark.parametrize("kind", ["http", "udp"])
@pytest.mark.usefixtures("dual_stack_name")
async def test_a_dual_stack_tracker_hears_us_over_both_families(
    kind: str, twin_trackers: tuple[TrackerServer, TrackerServer]
) -> None:
    v4, v6 = twin_trackers
    literal_urls = [getattr(server, f"{kind}_url") for server in (v4, v6)]
    early = [await _announced(url, n) for n, url in enumerate(literal_urls, start=1)]
    named = urlsplit(literal_urls[0])._replace(netloc=f"{DUAL_NAME}:{urlsplit(literal_urls[0]).port}").geturl()
    late, peers = await _announced(named, 3)
    try:
        await eventually(lambda: peers)
        assert sorted(peers[0]) == [("127.0.0.1", 7001), ("::1", 7002)]
    finally:
        for made in (*(m for m, _ in early), late):
            await made.stop(timeout=1.0)


async def test_a_tracker_of_another_family_than_the_chosen_address_is_refused_plainly() -> None:
    made, peers = await _announced("http://[::1]:1/announce", 1, Sockets("127.0.0.1"))
    try:
        assert next(t.message for t in made.snapshot()) == "the tracker is IPv6, the chosen address is not"
        assert peers == []
    finally:
        await made.stop(timeout=1.0)
