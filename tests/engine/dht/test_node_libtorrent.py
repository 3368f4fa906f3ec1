"""Our DHT nodes and a real libtorrent DHT node on loopback find each other's announces."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import libtorrent as lt
import pytest

from app.engine.dht.node import DhtNode
from tests.engine.dht.helpers import unlimited_node
from tests.lt_peer import LtPeer, make_torrent, random_tree

pytestmark = pytest.mark.interop

# libtorrent distrusts loopback and same-/24 nodes by default; on 127.0.0.x everything is both.
LT_DHT = {
    "enable_dht": True,
    "dht_restrict_routing_ips": False,
    "dht_restrict_search_ips": False,
    "dht_prefer_verified_node_ids": False,
    "dht_ignore_dark_internet": False,
    "alert_mask": lt.alert.category_t.dht_notification | lt.alert.category_t.error_notification,
}


@pytest.fixture
async def our_dht() -> AsyncIterator[list[DhtNode]]:
    first = unlimited_node(bootstrap=())
    await first.start("127.0.0.1")
    nodes = [first]
    for _ in range(2):
        dht = unlimited_node(bootstrap=[("127.0.0.1", first.port)])
        await dht.start("127.0.0.1")
        nodes.append(dht)
    yield nodes
    for dht in nodes:
        await dht.close()


@pytest.fixture
def libtorrent_node(our_dht: list[DhtNode]) -> Iterator[LtPeer]:
    peer = LtPeer("127.0.0.2", dht_bootstrap_nodes=f"127.0.0.1:{our_dht[0].port}", **LT_DHT)
    yield peer
    peer.close()


async def test_we_find_libtorrent_through_the_dht(
    our_dht: list[DhtNode], libtorrent_node: LtPeer, tmp_path: Path
) -> None:
    random_tree(tmp_path / "seed", {"content/a.bin": 100_000})
    torrent = make_torrent(tmp_path / "seed" / "content", piece_size=16384)
    handle = libtorrent_node.add(torrent, tmp_path / "seed")
    info_hash = handle.info_hash().to_bytes()
    async with asyncio.timeout(10):
        while ("127.0.0.2", libtorrent_node.port) not in await our_dht[2].get_peers(info_hash):
            await asyncio.sleep(0.2)


async def test_libtorrent_accepts_our_announce(our_dht: list[DhtNode], libtorrent_node: LtPeer) -> None:
    info_hash = os.urandom(20)
    async with asyncio.timeout(10):
        while not _announced_to(libtorrent_node, info_hash, 6999):
            await our_dht[2].announce(info_hash, 6999)
            await asyncio.sleep(0.2)


def _announced_to(peer: LtPeer, info_hash: bytes, port: int) -> bool:
    """Whether libtorrent reported an incoming announce_peer for `info_hash` and `port`."""
    return any(
        isinstance(alert, lt.dht_announce_alert) and alert.info_hash.to_bytes() == info_hash and alert.port == port
        for alert in peer.session.pop_alerts()
    )
