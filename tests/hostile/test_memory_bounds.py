"""A peer flooding data cannot make a session hold more than its limits (objects inspected, not RSS)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from app.engine.peer import PeerConnection
from app.engine.session import Session
from app.engine.wire import messages as m
from app.engine.wire.codec import INITIAL_BUFFER, MAX_READ
from tests.hostile.helpers import PIECE_LENGTH, honest_swarm
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer

FLOOD_BYTES = 24 * 1024 * 1024
_UNKNOWN_ID = 99  # BEP 3: messages with unknown ids are ignored, so this flood is legal
_RECEIVE_SIZE = MAX_READ  # the most room the decoder keeps free for one read from the socket


async def _hostile_peer(session: Session) -> PeerConnection:
    """The session's side of the hostile connection, once its handshake has been taken."""
    async with asyncio.timeout(10):
        while True:
            peers = [peer for torrent in session.torrents.values() for peer in torrent.peers]
            found = [peer for peer in peers if peer.address[0] == HOSTILE_HOST]
            if found:
                return found[0]
            await asyncio.sleep(0.01)


def _decoder_bound(peer: PeerConnection) -> int:
    """One message of the largest size plus one read may be buffered; growth at most doubles it."""
    return max(INITIAL_BUFFER, 2 * (peer.decoder.max_message + 4 + _RECEIVE_SIZE))


async def test_a_flood_of_the_largest_messages_keeps_the_receive_buffer_bounded(tmp_path: Path) -> None:
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.seed.listen_port or 0)
        peer.send_handshake(swarm.meta.info_hash)
        await peer.read_handshake()
        victim = await _hostile_peer(swarm.seed)
        largest = victim.decoder.max_message
        message = struct.pack(">IB", largest, _UNKNOWN_ID) + bytes(largest - 1)
        peak = 0
        for _ in range(FLOOD_BYTES // len(message)):
            peer.send(message[:-1000])  # most of one, then the rest: a partial message waits
            await asyncio.sleep(0)
            peer.send(message[-1000:])
            await peer.writer.drain()
            peak = max(peak, victim.decoder.buffer_size)
        async with asyncio.timeout(10):  # nothing large held any more, once a small read follows
            while victim.decoder.buffer_size != INITIAL_BUFFER and not victim.closed:
                peer.send(m.KeepAlive())  # the first may share a read with the last large message
                await peer.writer.drain()
                await asyncio.sleep(0.01)
        assert not victim.closed, victim.close_reason
        assert peak <= _decoder_bound(victim), (peak, largest)
        peer.close()
        await swarm.finish()


@pytest.mark.parametrize("limit", [4 * PIECE_LENGTH])
async def test_received_data_waiting_for_a_stalled_disk_stays_under_max_unwritten(
    tmp_path: Path, limit: int
) -> None:
    """While the disk is stuck, the leecher stops reading from the seed instead of buffering."""
    async with honest_swarm(tmp_path, max_unwritten=limit) as swarm:
        torrent = swarm.torrent
        disk_free = asyncio.Event()
        write = torrent.storage.verify_and_write

        async def stalled_write(piece: int, data: bytearray) -> bool:
            await disk_free.wait()
            return await write(piece, data)

        torrent.storage.verify_and_write = stalled_write  # type: ignore[method-assign]
        swarm.connect_honest()
        peak = slack = 0
        async with asyncio.timeout(10):
            while not torrent._reading_paused:
                peak = max(peak, torrent._unwritten)
                slack = max([slack, *(p.decoder.buffer_size for p in torrent.peers)])
                await asyncio.sleep(0)
        for _ in range(50):  # paused: nothing more may pile up
            peak = max(peak, torrent._unwritten)
            await asyncio.sleep(0.01)
        # What arrived before reading paused is the most that can pile up past the limit.
        assert limit < peak <= limit + slack + PIECE_LENGTH, (peak, slack)
        assert torrent._reading_paused
        disk_free.set()
        await swarm.finish()
