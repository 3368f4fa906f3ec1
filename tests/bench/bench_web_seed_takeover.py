"""A web seed joining slow peers that have started pieces: how long until the download is whole.

    .venv/bin/python -m tests.bench.bench_web_seed_takeover [--rounds 3] [--peers 3] [--rate 32]
        [--delay 0.1] [--batch 64] [--size 8]

`--peers` libtorrent seeds on 127.0.0.2... each upload `--rate` KiB/s; once each has sent a
block, a loopback web seed joins that waits `--delay` seconds before each answer and is asked
`--batch` KiB at a time. Prints the seconds from the web seed joining to Seeding (this includes
up to one second before the torrent's tick starts the seed), and how many blocks it delivered
before a peer that had been asked for them too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from aiohttp import web

from app.engine import webseed
from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import PeerSnapshot, TorrentState
from tests.http_server import handler_servers
from tests.lt_peer import LtPeer, random_tree, throttle_loopback
from tests.swarm_helpers import running_session, wait_for_state

PIECE = 64 * 1024


async def one_round(args: argparse.Namespace, folder: Path) -> tuple[float, PeerSnapshot]:
    payload = random_tree(folder / "seed" / "payload", {"big.bin": args.size * 1024 * 1024})
    torrent = create_torrent(payload, piece_length=PIECE)
    peers = [LtPeer(f"127.0.0.{2 + i}") for i in range(args.peers)]
    try:
        for peer in peers:
            throttle_loopback(peer, args.rate * 1024)
            peer.add(torrent, payload.parent, seed_mode=True)

        async def files(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(args.delay)
            return web.FileResponse(payload.parent / request.match_info["path"])

        async with handler_servers() as serve, running_session() as session:
            base = await serve(files)
            info_hash = await session.add_torrent(torrent, folder / "got")
            for peer in peers:
                session.add_peer(info_hash, peer.host, peer.port)
            async with asyncio.timeout(60):
                while sum(1 for p in rows(session, info_hash) if p.downloaded) < args.peers:
                    await asyncio.sleep(0.02)
            start = time.perf_counter()
            await session.add_web_seed(info_hash, base)
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=600)
            seconds = time.perf_counter() - start
            return seconds, next(p for p in rows(session, info_hash) if p.is_web_seed)
    finally:
        for peer in peers:
            peer.close()


def rows(session: Session, info_hash: str) -> tuple[PeerSnapshot, ...]:
    details = session.details(info_hash)
    return () if details is None else details.peers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", type=int, default=3)
    parser.add_argument("--rate", type=int, default=32, help="KiB/s each peer uploads")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds the web seed waits before each answer")
    parser.add_argument("--batch", type=int, default=64, help="KiB asked of the web seed at a time")
    parser.add_argument("--size", type=int, default=8, help="MiB of payload")
    args = parser.parse_args()
    webseed.REQUEST_BYTES = args.batch * 1024
    times = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            seconds, seed = asyncio.run(one_round(args, Path(folder)))
        times.append(seconds)
        print(f"{seconds:6.2f} s  web seed sent {seed.downloaded} bytes, {seed.taken_over} blocks before a peer")
    print(f"median {statistics.median(times):.2f} s over {args.rounds} rounds")


if __name__ == "__main__":
    main()
