"""Magnet to metadata from a local libtorrent peer, and a DHT lookup in a 50-node loopback DHT.

    .venv/bin/python -m tests.bench.bench_discovery [--rounds 5] [--nodes 50]

Prints Piecemeal's figures beside libtorrent's where libtorrent can do the same thing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import libtorrent as lt

from app.engine.dht import DhtNode
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.swarm_helpers import running_session


async def piecemeal_metadata_seconds(magnet: str, seed_port: int, folder: Path) -> float:
    async with running_session() as session:
        start = time.perf_counter()
        info_hash = await session.add_torrent(magnet, folder)
        session.add_peer(info_hash, "127.0.0.2", seed_port)
        torrent = session.torrents[bytes.fromhex(info_hash)]
        while not torrent.has_metadata:
            await asyncio.sleep(0.001)
        return time.perf_counter() - start


def libtorrent_metadata_seconds(magnet: str, seed_port: int, folder: Path) -> float:
    peer = LtPeer("127.0.0.3")
    try:
        params = lt.parse_magnet_uri(magnet)
        params.save_path = str(folder)
        start = time.perf_counter()
        handle = peer.session.add_torrent(params)
        handle.connect_peer(("127.0.0.2", seed_port))
        while not handle.status().has_metadata:
            time.sleep(0.001)
        return time.perf_counter() - start
    finally:
        peer.session.remove_torrent(handle)
        peer.close()


async def bench_metadata(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        payload = random_tree(work / "seed", {f"many/f{i:04}.bin": 1000 + i for i in range(2000)}) / "many"
        torrent = make_torrent(payload, piece_size=16384)
        meta = parse_metainfo(torrent)
        seed = LtPeer("127.0.0.2")
        seed.add(torrent, payload.parent)
        await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
        magnet = format_magnet(meta.info_hash)
        ours, theirs = [], []
        for i in range(rounds):
            ours.append(await piecemeal_metadata_seconds(magnet, seed.port, work / f"pm{i}"))
            theirs.append(await asyncio.to_thread(libtorrent_metadata_seconds, magnet, seed.port, work / f"lt{i}"))
        seed.close()
        print(f"magnet -> metadata ({len(meta.raw_info) / 1024:.0f} KiB info dict, {len(meta.files)} files), "
              f"median of {rounds}:")
        print(f"  piecemeal   {statistics.median(ours) * 1000:7.1f} ms   (all: {', '.join(f'{x*1000:.0f}' for x in ours)})")
        print(f"  libtorrent  {statistics.median(theirs) * 1000:7.1f} ms   (all: {', '.join(f'{x*1000:.0f}' for x in theirs)})")


async def bench_dht(nodes_count: int, rounds: int) -> None:
    limits = {"max_queries_per_second": 10_000, "max_queries_per_ip_per_second": 10_000}
    nodes = [DhtNode(bootstrap=(), **limits) for _ in range(nodes_count)]
    await nodes[0].start("127.0.0.1", 0)
    for node in nodes[1:]:
        node.add_node("127.0.0.1", nodes[0].port)
        await node.start("127.0.0.1", 0)
    await asyncio.sleep(1.0)  # let the bootstraps settle
    times, messages = [], []
    try:
        for r in range(rounds):
            info_hash = bytes([r + 1]) * 20
            await nodes[1 + r % (nodes_count - 1)].announce(info_hash, 6881 + r)
            searcher = nodes[-1 - r % (nodes_count - 2)]
            before = sum(n.messages_sent for n in nodes)
            start = time.perf_counter()
            peers = await searcher.get_peers(info_hash)
            times.append(time.perf_counter() - start)
            messages.append(sum(n.messages_sent for n in nodes) - before)
            assert peers, "the lookup found nobody"
    finally:
        for node in nodes:
            await node.close()
    print(f"DHT get_peers in a {nodes_count}-node loopback DHT, median of {rounds}: "
          f"{statistics.median(times) * 1000:.1f} ms, {statistics.median(messages):.0f} datagrams sent "
          f"(queries and answers, all nodes)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(bench_metadata(args.rounds))
    asyncio.run(bench_dht(args.nodes, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
