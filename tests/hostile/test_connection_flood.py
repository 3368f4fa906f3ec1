"""A flood of incoming connections beyond max_peers is refused at once; the transfer goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from app.engine import session as session_module
from app.engine.peer import PeerConnection
from app.engine.wire import messages as m
from tests.hostile.helpers import close_reasons, honest_swarm
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer
from tests.swarm_helpers import eventually

MAX_PEERS = 4
FLOOD = 40


def hostile(peers: Iterable[PeerConnection]) -> int:
    return sum(1 for peer in peers if peer.address[0] == HOSTILE_HOST)


async def test_connections_beyond_max_peers_are_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "HANDSHAKE_TIMEOUT", 2.0)
    async with honest_swarm(tmp_path, max_peers=MAX_PEERS) as swarm:
        swarm.connect_honest()
        port = swarm.leecher.listen_port or 0
        flood = [await ScriptedPeer.connect(port) for _ in range(FLOOD)]

        def decided() -> bool:  # each connection refused, or let in (perhaps timed out since)
            reasons = close_reasons(peer_log, HOSTILE_HOST)
            return len(reasons) + hostile(swarm.leecher._handshaking) == FLOOD

        await eventually(decided, "the session accepted or refused every connection")
        kept = FLOOD - close_reasons(peer_log, HOSTILE_HOST).count("too many connections")
        assert 0 < kept <= MAX_PEERS
        await swarm.finish()
        # The ones let in but silent lose their slot when the handshake timeout ends.
        assert all(await asyncio.gather(*(peer.wait_closed(20.0) for peer in flood)))
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

        def decided() -> bool:  # each connection refused, or a peer of the torrent
            joined = hostile(swarm.torrent.peers)
            refused = len(close_reasons(peer_log, HOSTILE_HOST))
            return joined + refused == FLOOD and not hostile(swarm.leecher._handshaking)

        await eventually(decided, "the session let in or refused every connection")
        kept = hostile(swarm.torrent.peers)
        assert 0 < kept <= MAX_PEERS
        assert len(swarm.torrent.peers) <= MAX_PEERS
        assert close_reasons(peer_log, HOSTILE_HOST) == ["too many connections"] * (FLOOD - kept)
        for peer in flood:
            peer.close()
        await swarm.finish()
