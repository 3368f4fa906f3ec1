"""IPv6 on ::1 against real libtorrent peers: through our tracker over HTTP and UDP, and a
trackerless magnet through a small DHT on ::1 (BEP 7, 15, 32). Piecemeal runs unbound, so it
listens on both stacks and speaks IPv6 where the others are."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import TorrentState
from tests.lt_peer import (LtPeer, dht_settings, lt_seed, make_torrent, random_tree, relay_through_piecemeal,
                           throttle_loopback)
from tests.swarm_helpers import (assert_same_files, loopback_dht, running_session, running_tracker, wait_announced,
                                 wait_for_peer, wait_for_state)

pytestmark = pytest.mark.interop

SIZES = {"six/a.bin": 700_001, "six/sub/b.txt": 4321}
ANY_ADDRESS = ""  # unbound: both stacks


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "six"


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_both_ways_over_ipv6_through_our_tracker(kind: str, payload: Path, tmp_path: Path) -> None:
    """libtorrent on [::1] seeds -> Piecemeal leeches -> a libtorrent on [::1] leeches from
    Piecemeal; every address comes from the tracker on [::1] (`peers6` over HTTP, 18-byte
    peers over UDP)."""
    async with running_tracker("::1") as tracker, running_session(ANY_ADDRESS) as session:
        url = tracker.http_url if kind == "http" else tracker.udp_url
        assert url.startswith(f"{kind}://[::1]:")
        torrent = make_torrent(payload, piece_size=65536, trackers=[url])
        await relay_through_piecemeal(session, torrent, payload, tmp_path, "::1")
    assert_same_files(payload.parent, tmp_path / "pm", list(SIZES))
    assert_same_files(payload.parent, tmp_path / "lt", list(SIZES))


async def test_trackerless_magnet_through_an_ipv6_dht(payload: Path, tmp_path: Path) -> None:
    """A few DHT nodes on ::1, a libtorrent seed on the IPv6 DHT, a Piecemeal leecher with only a
    magnet link and one IPv6 bootstrap node: every lookup goes through `nodes6` (BEP 32)."""
    torrent = make_torrent(payload, piece_size=32768)
    meta = parse_metainfo(torrent)
    async with loopback_dht("::1") as nodes:
        bootstrap = ("::1", nodes[0].port)
        async with lt_seed(torrent, payload.parent, "::1", **dht_settings(bootstrap)) as seed:
            await wait_announced(nodes[1], meta.info_hash, seed.handles[0].force_dht_announce)
            async with running_session(ANY_ADDRESS, enable_dht=True, dht_bootstrap=(bootstrap,)) as session:
                info_hash = await session.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
                await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=60)
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_ipv6_pex_teaches_us_a_third_peer(payload: Path, tmp_path: Path) -> None:
    """We know only libtorrent A on [::1]; A also serves libtorrent B on [::1]; A's ut_pex
    `added6` tells us about B (BEP 11). A uploads slowly, so nobody finishes before PEX has
    been sent: libtorrent sends ut_pex about once a minute."""
    torrent = make_torrent(payload, piece_size=32768)
    async with lt_seed(torrent, payload.parent, "::1") as seed:
        throttle_loopback(seed, 4096)
        with LtPeer("::1") as other:
            other.add(torrent, tmp_path / "b")
            # A dials B, so A knows where B listens (all three share ::1: only ports tell them apart).
            seed.handles[0].connect_peer(("::1", other.port))
            async with running_session(ANY_ADDRESS) as session:
                info_hash = await session.add_torrent(torrent, tmp_path / "out")
                session.add_peer(info_hash, "::1", seed.port)
                await wait_for_peer(session, info_hash, ("::1", other.port))
