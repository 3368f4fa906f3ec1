"""Message-order quirks of real clients that cost nothing are taken as news, not as offences
(DESIGN.md, "Errors and hostile input"): a scripted peer plays them to a Piecemeal seed.

aria2 1.36 sends a whole bitfield instead of the `have`s when 20 or more pieces completed
since its last round (and have-all once it has everything); tests/interop/test_clients.py
meets the real thing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from app.engine.bitfield import Bitfield
from app.engine.session import Session
from app.engine.snapshots import PeerSnapshot, TorrentState
from app.engine.wire import messages as m
from tests.hostile.helpers import close_reasons
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer
from tests.lt_peer import make_torrent, random_tree
from tests.swarm_helpers import running_session, wait_for_state

PIECES = 8
PIECE_SIZE = 16384
FAST = bytes([0, 0, 0, 0, 0, 0, 0, 0x04])  # BEP 6: the fast extension bit


def _bitfield(*indices: int) -> m.BitfieldMessage:
    pieces = Bitfield(PIECES)
    pieces.update(indices)
    return m.BitfieldMessage(pieces.to_bytes())


async def _peer_with_progress(session: Session, info_hash: str, progress: float) -> PeerSnapshot:
    """The scripted peer as the session sees it, once it has `progress` of the pieces."""
    peers: list[PeerSnapshot] = []
    for _ in range(500):
        details = session.details(info_hash)
        peers = [p for p in details.peers if p.address.startswith(HOSTILE_HOST)] if details else []
        if peers and peers[0].progress == progress:
            return peers[0]
        await asyncio.sleep(0.02)
    seen = f"it has {peers[0].progress:.0%}" if peers else "it was dropped"
    pytest.fail(f"the scripted peer should have {progress:.0%} of the pieces after its messages; {seen}")


async def _seed(session: Session, tmp_path: Path) -> tuple[str, bytes]:
    random_tree(tmp_path / "seed", {"quirks.bin": PIECES * PIECE_SIZE})
    torrent = make_torrent(tmp_path / "seed" / "quirks.bin", piece_size=PIECE_SIZE)
    info_hash = await session.add_torrent(torrent, tmp_path / "seed")
    await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
    return info_hash, bytes.fromhex(info_hash)


async def test_a_repeated_bitfield_and_a_bitfield_after_haves_replace_the_view(tmp_path: Path) -> None:
    async with running_session() as session:
        info_hash, raw_hash = await _seed(session, tmp_path)
        peer = await ScriptedPeer.connect(session.listen_port or 0)
        try:
            peer.send_handshake(raw_hash)
            await peer.read_handshake()
            # As libtorrent does, a bitfield is the peer's whole truth: it replaces what came before.
            peer.send(m.Have(0), _bitfield(1, 2))  # a have first, then the bitfield
            await _peer_with_progress(session, info_hash, 2 / PIECES)
            peer.send(_bitfield(1, 2, 3, 4), m.Have(5))  # a whole bitfield again, as aria2 does
            await _peer_with_progress(session, info_hash, 5 / PIECES)
        finally:
            peer.close()


async def test_have_none_then_have_all_with_the_fast_extension(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.engine.peer")
    async with running_session() as session:
        info_hash, raw_hash = await _seed(session, tmp_path)
        peer = await ScriptedPeer.connect(session.listen_port or 0)
        try:
            peer.writer.write(bytes([19]) + b"BitTorrent protocol" + FAST + raw_hash + b"-XX0001-" + bytes(12))
            await peer.read_handshake()
            peer.send(m.HaveNone(), m.Have(7))
            await _peer_with_progress(session, info_hash, 1 / PIECES)
            peer.send(m.HaveNone(), m.Have(6))  # a repeated have-none replaces the view too
            await _peer_with_progress(session, info_hash, 1 / PIECES)
            peer.send(m.HaveAll())  # have-all after haves: it has everything now, like us
            async with asyncio.timeout(10):
                while "both sides are seeds" not in close_reasons(caplog, HOSTILE_HOST):
                    await asyncio.sleep(0.02)
        finally:
            peer.close()
