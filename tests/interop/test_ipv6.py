"""IPv6 on ::1 against real libtorrent peers: through our tracker over HTTP and UDP, and a
trackerless magnet through a small DHT on ::1 (BEP 7, 15, 32). Piecemeal runs unbound, so it
listens on both stacks and speaks IPv6 where the others are."""

from __future__ import annotations

import asyncio
import filecmp
from pathlib import Path

import libtorrent as lt
import pytest

from app.engine.dht import DhtNode
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import TorrentState
from app.engine.tracker.server import TrackerServer
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.swarm_helpers import running_session, wait_for_state

pytestmark = pytest.mark.interop

SIZES = {"six/a.bin": 700_001, "six/sub/b.txt": 4321}
ANY_ADDRESS = ""  # unbound: both stacks


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "six"


def assert_same_tree(a: Path, b: Path) -> None:
    for name in SIZES:
        rel = Path(name).relative_to("six")
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


@pytest.fixture
async def ipv6_tracker() -> TrackerServer:
    tracker = TrackerServer(interval=60)
    await tracker.start("::1")
    yield tracker
    await tracker.close()


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_both_ways_over_ipv6_through_our_tracker(
    kind: str, payload: Path, tmp_path: Path, ipv6_tracker: TrackerServer
) -> None:
    """libtorrent on [::1] seeds -> Piecemeal leeches -> a libtorrent on [::1] leeches from
    Piecemeal; every address comes from the tracker on [::1] (`peers6` over HTTP, 18-byte
    peers over UDP)."""
    url = ipv6_tracker.http_url if kind == "http" else ipv6_tracker.udp_url
    assert url.startswith(f"{kind}://[::1]:")
    torrent = make_torrent(payload, piece_size=65536, trackers=[url])
    async with running_session(ANY_ADDRESS) as session:
        lt_seed = LtPeer("::1")
        try:
            lt_seed.add(torrent, payload.parent)
            await asyncio.to_thread(lt_seed.wait_seeding, lt_seed.handles[0])
            lt_seed.handles[0].force_reannounce()
            info_hash = await session.add_torrent(torrent, tmp_path / "pm")
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
        finally:
            lt_seed.close()  # now Piecemeal is the only seed
        lt_leech = LtPeer("::1")
        try:
            lt_leech.add(torrent, tmp_path / "lt")
            await asyncio.to_thread(lt_leech.wait_seeding, lt_leech.handles[0])
        finally:
            lt_leech.close()
    assert_same_tree(payload, tmp_path / "pm" / "six")
    assert_same_tree(payload, tmp_path / "lt" / "six")


async def test_trackerless_magnet_through_an_ipv6_dht(payload: Path, tmp_path: Path) -> None:
    """A few DHT nodes on ::1, a libtorrent seed on the IPv6 DHT, a Piecemeal leecher with only a
    magnet link and one IPv6 bootstrap node: every lookup goes through `nodes6` (BEP 32)."""
    import socket

    limits = {"max_queries_per_second": 1000, "max_queries_per_ip_per_second": 1000}
    nodes = [DhtNode(bootstrap=(), family=socket.AF_INET6, **limits) for _ in range(6)]
    await nodes[0].start("::1", 0)
    for node in nodes[1:]:
        node.add_node("::1", nodes[0].port)
        await node.start("::1", 0)
    torrent = make_torrent(payload, piece_size=32768)
    seed = LtPeer(
        "::1", enable_dht=True, dht_bootstrap_nodes=f"[::1]:{nodes[0].port}",
        dht_restrict_routing_ips=False, dht_restrict_search_ips=False, dht_prefer_verified_node_ids=False,
    )
    seed.add(torrent, payload.parent)
    meta = parse_metainfo(torrent)
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
        async with asyncio.timeout(30):  # the seed announces itself once it has joined
            while not await nodes[1].get_peers(meta.info_hash):
                seed.handles[0].force_dht_announce()
                await asyncio.sleep(0.5)
        bootstrap = (("::1", nodes[0].port),)
        async with running_session(ANY_ADDRESS, enable_dht=True, dht_bootstrap=bootstrap) as session:
            info_hash = await session.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=60)
    finally:
        seed.close()
        for node in nodes:
            await node.close()
    assert_same_tree(payload, tmp_path / "out" / "six")


async def test_ipv6_pex_teaches_us_a_third_peer(payload: Path, tmp_path: Path) -> None:
    """We know only libtorrent A on [::1]; A also serves libtorrent B on [::1]; A's ut_pex
    `added6` tells us about B (BEP 11). A uploads slowly, so nobody finishes before PEX has
    been sent: libtorrent sends ut_pex about once a minute."""
    torrent = make_torrent(payload, piece_size=32768)
    seed, other = LtPeer("::1"), LtPeer("::1")
    slow = lt.ip_filter()  # libtorrent exempts local peers from rate limits: not ::1 here
    slow.add_rule("::1", "::1", 1 << lt.session.global_peer_class_id)
    seed.session.set_peer_class_filter(slow)
    seed.session.apply_settings({"upload_rate_limit": 4096})
    try:
        seed.add(torrent, payload.parent)
        await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
        other.add(torrent, tmp_path / "b")
        # A dials B, so A knows where B listens (all three share ::1: only ports tell them apart).
        seed.handles[0].connect_peer(("::1", other.port))
        async with running_session(ANY_ADDRESS) as session:
            info_hash = await session.add_torrent(torrent, tmp_path / "out")
            session.add_peer(info_hash, "::1", seed.port)
            torrent_obj = session.torrents[bytes.fromhex(info_hash)]
            async with asyncio.timeout(100):
                while not any(p.address == ("::1", other.port) for p in torrent_obj.peers):
                    await asyncio.sleep(0.1)
    finally:
        seed.close()
        other.close()
