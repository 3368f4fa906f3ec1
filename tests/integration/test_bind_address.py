""""VPN only": a session bound to 127.0.0.2 opens no socket on another local address.

Peers (a libtorrent seed), an HTTP and a UDP tracker, the DHT and LSD all run while a sampler
lists the process's own sockets with psutil. The helpers (tracker, DHT bootstrap node,
libtorrent) live in this process too: their sockets are recognised by their own addresses.

LSD is the one socket on another address: a multicast listener binds to the group address
239.192.152.143:6771 to hear the group. For it, bound means: the group is joined on the
chosen interface and its datagrams leave from the chosen address, which a neighbour in the
group checks here.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from app.engine.dht import DhtNode
from app.engine.lsd import LSD_PORT, MULTICAST_GROUP, parse_announce
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from app.engine.tracker.server import TrackerServer
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.processes import lacking
from tests.swarm_helpers import assert_same_files, loopback_config, wait_for_state

pytestmark = pytest.mark.interop

CHOSEN = "127.0.0.2"
SEED_HOST = "127.0.0.3"
# The tracker and the DHT bootstrap node. Not 127.0.0.1: libtorrent caches UDP tracker
# connection ids by the tracker's IP alone, and another test's tracker there would spoil it.
HELPERS_HOST = "127.0.0.8"


@dataclass(frozen=True, slots=True)
class SocketSeen:
    kind: str  # "tcp" or "udp"
    local: tuple[str, int]
    remote: tuple[str, int] | None


class SocketSampler:
    """Lists this process's internet sockets every few milliseconds until stopped."""

    def __init__(self) -> None:
        self.seen: set[SocketSeen] = set()
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        for conn in psutil.Process().net_connections(kind="inet"):
            if not conn.laddr:
                continue
            kind = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
            remote = (conn.raddr.ip, conn.raddr.port) if conn.raddr else None
            self.seen.add(SocketSeen(kind, (conn.laddr.ip, conn.laddr.port), remote))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.02)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.sample()


class LsdNeighbour(asyncio.DatagramProtocol):
    """A member of the LSD group on loopback: who announced which port, from where."""

    def __init__(self) -> None:
        self.heard: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.heard.put_nowait((addr[0], parse_announce(data).port))


@pytest.fixture
async def lsd_neighbour() -> AsyncIterator[LsdNeighbour]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((MULTICAST_GROUP, LSD_PORT))
    membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton("127.0.0.1")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    transport, neighbour = await asyncio.get_running_loop().create_datagram_endpoint(LsdNeighbour, sock=sock)
    try:
        yield neighbour
    finally:
        transport.close()


@pytest.fixture
def seed() -> Iterator[LtPeer]:
    peer = LtPeer(SEED_HOST)
    try:
        yield peer
    finally:
        peer.close()


async def _heard_from(neighbour: LsdNeighbour, port: int) -> str:
    async with asyncio.timeout(10):
        while True:
            source, announced = await neighbour.heard.get()
            if announced == port:
                return source


def _helper_socket(seen: SocketSeen, helper_endpoints: set[tuple[str, int]]) -> bool:
    return seen.local[0] == SEED_HOST or seen.local in helper_endpoints


def _bound(seen: SocketSeen) -> bool:
    return seen.local[0] == CHOSEN or (seen.kind, seen.local) == ("udp", (MULTICAST_GROUP, LSD_PORT))


async def test_every_socket_of_a_bound_session_is_on_the_chosen_address(
    tmp_path: Path, seed: LtPeer, lsd_neighbour: LsdNeighbour
) -> None:
    random_tree(tmp_path / "seed", {"over_http.bin": 1_500_000, "over_udp.bin": 1_200_000})
    tracker = TrackerServer(interval=60)
    await tracker.start(HELPERS_HOST)
    bootstrap = DhtNode()
    await bootstrap.start(HELPERS_HOST)
    bootstrap_port = bootstrap.port
    torrents = {
        name: make_torrent(tmp_path / "seed" / name, piece_size=65536, trackers=[url])
        for name, url in (("over_http.bin", tracker.http_url), ("over_udp.bin", tracker.udp_url))
    }
    for torrent in torrents.values():
        seed.add(torrent, tmp_path / "seed")
    sampler = SocketSampler()
    config = loopback_config(
        CHOSEN, enable_dht=True, dht_bootstrap=((HELPERS_HOST, bootstrap_port),), enable_lsd=True
    )
    session = Session(config)
    sampler.start()
    await session.start()
    try:
        for handle in seed.handles:
            await asyncio.to_thread(seed.wait_seeding, handle)
        hashes = [await session.add_torrent(t, tmp_path / "down") for t in torrents.values()]
        for info_hash in hashes:
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
        assert await _heard_from(lsd_neighbour, session.listen_port) == CHOSEN
        async with asyncio.timeout(10):
            while session.dht is None or session.dht.node_count == 0:
                await asyncio.sleep(0.05)
        dht_port = session.dht_port
    finally:
        await session.close()
        await sampler.stop()
        await bootstrap.close()
        await tracker.close()
    assert_same_files(tmp_path / "seed", tmp_path / "down", list(torrents))

    http_port, udp_port = (int(url.split(":")[2].split("/")[0]) for url in (tracker.http_url, tracker.udp_url))
    helpers = {(HELPERS_HOST, http_port), (HELPERS_HOST, udp_port), (HELPERS_HOST, bootstrap_port)}
    ours = {seen for seen in sampler.seen if not _helper_socket(seen, helpers)}
    assert [seen for seen in ours if not _bound(seen)] == []
    # The sampler did see each kind of socket, all on the chosen address.
    remotes = {(seen.kind, seen.remote) for seen in ours if seen.local[0] == CHOSEN}
    assert ("tcp", (HELPERS_HOST, http_port)) in remotes, "no HTTP tracker connection seen"
    assert ("udp", (HELPERS_HOST, udp_port)) in remotes, "no UDP tracker socket seen"
    assert any(kind == "tcp" and remote and remote[0] == SEED_HOST for kind, remote in remotes), "no peer seen"
    assert SocketSeen("udp", (CHOSEN, dht_port), None) in ours, "no DHT socket seen"
    assert SocketSeen("tcp", (CHOSEN, session.listen_port), None) in ours, "no listening socket seen"


def _can_bind(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


async def test_an_ipv6_address_runs_the_ipv6_dht_only() -> None:
    """BEP 32: bound to an IPv6 address, the DHT is one IPv6 node on that address, on the one
    UDP socket it shares with uTP (BEP 29), at the TCP port's number."""
    if not _can_bind("::1"):
        lacking("ipv6", "This machine has no IPv6 loopback (::1)")
    session = Session(loopback_config("::1", enable_dht=True, dht_bootstrap=(), enable_lsd=True))
    await session.start()
    try:
        assert session.dht is not None and list(session.dht.nodes) == [socket.AF_INET6]
        assert list(session.utp) == [socket.AF_INET6]
        dht_port = session.dht_port
        assert dht_port == session.utp[socket.AF_INET6].port == session.listen_port
        sampler = SocketSampler()
        sampler.sample()
    finally:
        await session.close()
    assert SocketSeen("tcp", ("::1", session.listen_port), None) in sampler.seen
    assert SocketSeen("udp", ("::1", dht_port), None) in sampler.seen
    assert SocketSeen("udp", ("ff15::efc0:988f", 6771), None) in sampler.seen  # LSD's IPv6 group
