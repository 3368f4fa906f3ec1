"""The peer hot path alone: one PeerConnection serves another over loopback TCP, in one process.

    .venv/bin/python -m tests.bench.bench_peer [--size-mib 512] [--count-calls]

No disk, no piece picker, no hashing: what is left is the wire codec, the peer protocol and
its asyncio adapter, both directions. It prints CPU seconds per GiB (both ends together);
with --count-calls, the Python function calls per 16 KiB block instead, which does not
depend on the machine's load: the number to compare before and after a change to
app/engine/peer*.py or app/engine/wire/ (encryption or uTP hooks must not raise it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time

from app.engine.bitfield import Bitfield
from app.engine.peer import PeerConnection
from app.engine.piece_picker import Block
from app.engine.wire import extension as ext
from app.engine.wire import messages as m

PIECE = 1 << 20
BLOCK = 16 * 1024
BLOCKS_PER_PIECE = PIECE // BLOCK
IH = bytes(range(20))
PAYLOAD = os.urandom(16 * PIECE)  # piece i holds PAYLOAD's (i mod 16)th MiB


class Owner:
    """A torrent reduced to what the peers ask of it: blocks in order, served from memory."""

    def __init__(self, num_pieces: int, have: Bitfield) -> None:
        self.info_hash, self.num_pieces, self.have = IH, num_pieces, have
        self.info_hash_v2 = None
        self.next = 0
        self.received = 0
        self.done = asyncio.get_running_loop().create_future()
        self.buffer = bytearray(PIECE)

    def peer_ready(self, peer: PeerConnection) -> None:
        pass

    def peer_closed(self, peer: PeerConnection, reason: str) -> None:
        if not self.done.done() and not self.have.count:  # the leecher lost its seed
            self.done.set_exception(ConnectionError(reason))

    def peer_pieces_changed(self, peer: PeerConnection, new: Bitfield | int) -> None:
        peer.set_interested(not self.have.count)

    def peer_pieces_replaced(self, peer: PeerConnection, old: Bitfield, new: Bitfield) -> None:
        pass

    def request_blocks(self, peer: PeerConnection, count: int) -> list[Block]:
        end = min(self.next + count, self.num_pieces * BLOCKS_PER_PIECE)
        blocks = [Block(i // BLOCKS_PER_PIECE, i % BLOCKS_PER_PIECE * BLOCK, BLOCK) for i in range(self.next, end)]
        self.next = end
        return blocks

    def block_received(self, peer: PeerConnection, block: Block, data: memoryview) -> None:
        self.buffer[block.offset : block.offset + block.length] = data  # the torrent's one copy
        self.received += 1
        if self.received == self.num_pieces * BLOCKS_PER_PIECE:
            self.done.set_result(None)

    def blocks_returned(self, peer: PeerConnection, blocks: list[Block]) -> None:
        self.next = min(self.next, *(b.piece * BLOCKS_PER_PIECE + b.offset // BLOCK for b in blocks))

    def interest_changed(self, peer: PeerConnection) -> None:
        peer.set_choking(not peer.peer_interested)

    def valid_request(self, request: m.Request) -> bool:
        return True

    async def read_block(self, index: int, begin: int, length: int) -> memoryview:
        return self.cached_block(index, begin, length)

    def prefetch(self, index: int) -> None:
        pass

    def cached_block(self, index: int, begin: int, length: int) -> memoryview:
        start = index % 16 * PIECE + begin
        return memoryview(PAYLOAD)[start : start + length]

    def suggestions(self, peer: PeerConnection) -> list[int]:
        return []

    def our_bitfield(self) -> Bitfield:
        return self.have

    def our_extension_handshake(self, peer: PeerConnection) -> ext.ExtensionHandshake:
        return ext.ExtensionHandshake(m=dict(ext.LOCAL_EXTENSION_IDS), v="bench")

    def extension_handshake(self, peer: PeerConnection, handshake: ext.ExtensionHandshake) -> None:
        pass

    def metadata_message(self, peer: PeerConnection, message: ext.MetadataMessage) -> None:
        pass

    def pex_received(self, peer: PeerConnection, message: ext.PexMessage) -> None:
        pass

    def dht_port(self, peer: PeerConnection, port: int) -> None:
        pass


class Lookup:
    def __init__(self, peer_id: bytes, torrents: dict[bytes, Owner]) -> None:
        self.peer_id, self.torrents, self.dht_port = peer_id, torrents, None

    def torrent_for(self, info_hash: bytes) -> Owner | None:
        return self.torrents.get(info_hash)


async def transfer(num_pieces: int) -> None:
    seed, leecher = Owner(num_pieces, Bitfield.full(num_pieces)), Owner(num_pieces, Bitfield(num_pieces))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PeerConnection(Lookup(b"-PM0000-benchseedxxx", {IH: seed}), None, ("127.0.0.1", 0)), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(
        lambda: PeerConnection(Lookup(b"-PM0000-benchleechxx", {}), leecher, ("127.0.0.1", port)), "127.0.0.1", port
    )
    try:
        await asyncio.wait_for(leecher.done, 600)
    finally:
        transport.close()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--count-calls", action="store_true")
    args = parser.parse_args()
    blocks = args.size_mib * BLOCKS_PER_PIECE
    if args.count_calls:
        profile = cProfile.Profile()
        profile.runcall(asyncio.run, transfer(args.size_mib))
        print(f"{pstats.Stats(profile).total_calls / blocks:.1f} Python calls per 16 KiB block, both ends")
        return
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(transfer(args.size_mib))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{args.size_mib} MiB: {cpu * 1024 / args.size_mib:.2f} CPU s/GiB (both ends), {args.size_mib / wall:.0f} MiB/s")


if __name__ == "__main__":
    main()
