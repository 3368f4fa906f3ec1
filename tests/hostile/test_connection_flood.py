"""A flood of incoming connections beyond max_peers is refused at once; the transfer goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine import session as session_module
from app.engine.wire import messages as m
from tests.hostile.helpers import close_reasons, honest_swarm
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer

MAX_PEERS = 4
FLOOD = 40


async def test_connections_beyond_max_peers_are_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "HANDSHAKE_TIMEOUT", 2.0)
    async with honest_swarm(tmp_path, max_peers=MAX_PEERS) as swarm:
        swarm.connect_honest()
        port = swarm.leecher.listen_port or 0
        flood = [await ScriptedPeer.connect(port) for _ in range(FLOOD)]
        closed = await asyncio.gather(*(peer.wait_closed(0.5) for peer in flood))
        kept = closed.count(False)
        assert 0 < kept <= MAX_PEERS
        await swarm.finish()
        # The ones let in but silent lose their slot when the handshake timeout ends.
        assert all(await asyncio.gather(*(peer.wait_closed(5.0) for peer in flood)))
    reasons = close_reasons(peer_log, HOSTILE_HOST)
    assert reasons.count("too many connections") == FLOOD - kept
    assert reasons.count("no handshake") == kept


async def test_a_handshaking_flood_leaves_room_once_it_is_gone(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture,
) -> None:
    async with honest_swarm(tmp_path, max_peers=MAX_PEERS) as swarm:
        port = swarm.leecher.listen_port or 0
        flood = [await ScriptedPeer.connect(port) for _ in range(FLOOD)]
        for peer in flood:
            peer.send_handshake(swarm.meta.info_hash)
            peer.send(m.KeepAlive())
        closed = await asyncio.gather(*(peer.wait_closed(0.5) for peer in flood))
        assert 0 < closed.count(False) <= MAX_PEERS
        assert len(swarm.torrent.peers) <= MAX_PEERS
        for peer in flood:
            peer.close()
        await swarm.finish()
    assert close_reasons(peer_log, HOSTILE_HOST).count("too many connections") == closed.count(True)
