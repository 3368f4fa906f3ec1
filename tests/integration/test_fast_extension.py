"""BEP 6 allowed fast and suggest between two Piecemeal sessions on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine import peer_protocol
from app.engine.creator import create_torrent
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.snapshots import TorrentState
from app.engine.wire import messages as m
from app.engine.wire.fast import ALLOWED_FAST_SET_SIZE, allowed_fast_set
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, running_session, seed_with, wait_for_state

PIECE = 16 * 1024
PIECES = 64  # enough for BEP 6's k = 10 to be a small part of the torrent


@pytest.fixture
def torrent(tmp_path: Path) -> bytes:
    payload = random_tree(tmp_path / "seed" / "p", {"data.bin": PIECES * PIECE})
    return create_torrent(payload, piece_length=PIECE)


def allowed_for_loopback(meta: Metainfo) -> set[int]:
    return set(allowed_fast_set("127.0.0.1", meta.info_hash, PIECES, ALLOWED_FAST_SET_SIZE))


async def test_a_choked_leecher_gets_its_allowed_fast_pieces_and_no_others(torrent: bytes, tmp_path: Path) -> None:
    """The seed's one upload slot goes to a scripted peer that only says it is interested;
    the choker keeps that optimistic unchoke for 30 seconds, so our leecher stays choked."""
    meta = parse_metainfo(torrent)
    async with running_session(upload_slots=1) as seed, running_session() as leecher:
        info_hash = await seed_with(seed, torrent, tmp_path / "seed")
        seed_torrent = seed.torrents[meta.info_hash]
        holder = await ScriptedPeer.connect(seed.listen_port or 0)
        holder.send_handshake(meta.info_hash)
        holder.send(m.Interested())
        await eventually(lambda: any(p.address[0] == HOSTILE_HOST and not p.am_choking for p in seed_torrent.peers))

        await leecher.add_torrent(torrent, tmp_path / "out")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        ours = leecher.torrents[meta.info_hash]
        allowed = allowed_for_loopback(meta)
        await eventually(lambda: ours.picker.have.count == len(allowed))
        await asyncio.sleep(0.3)  # room for anything else to arrive, which must not

        assert set(ours.picker.have) == allowed
        [to_seed] = ours.peers
        assert to_seed.peer_choking and to_seed.allowed_fast == allowed
        [to_leecher] = [p for p in seed_torrent.peers if p.address[0] == "127.0.0.1"]
        assert to_leecher.am_choking and to_leecher.up.total == len(allowed) * PIECE
        holder.close()


async def test_the_leecher_fetches_the_pieces_the_seed_suggests_first(
    torrent: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed suggests what sits in its read cache; the leecher, once unchoked, asks for
    those pieces before any other (its allowed fast pieces may come before, while choked)."""
    meta = parse_metainfo(torrent)
    allowed = allowed_for_loopback(meta)
    outside = [piece for piece in range(PIECES) if piece not in allowed]
    cached = [outside[-1], outside[5]]  # far apart, neither of them one of the allowed pieces
    received: list[int] = []
    original = peer_protocol.PeerProtocol._on_blocks  # every received block passes here

    def record(peer: peer_protocol.PeerProtocol, blocks: list[tuple[int, int, memoryview]]) -> None:
        received.extend(index for index, _, _ in blocks)
        original(peer, blocks)

    monkeypatch.setattr(peer_protocol.PeerProtocol, "_on_blocks", record)
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed_with(seed, torrent, tmp_path / "seed")
        seed_torrent = seed.torrents[meta.info_hash]
        for piece in cached:
            await seed_torrent.read_block(piece, 0, PIECE)  # the seed has just served these
        await leecher.add_torrent(torrent, tmp_path / "out")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING, timeout=30)

    assert len(received) == PIECES
    assert [piece for piece in received if piece not in allowed][:2] == cached[::-1]  # latest read first
