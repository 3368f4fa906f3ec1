"""Scripted peers break the protocol beside an honest seed: each is hung up on with a logged
reason, and the honest transfer completes with exact data."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from app.engine import heartbeat, peer_protocol
from app.engine import session as session_module
from app.engine.bitfield import Bitfield
from app.engine.peer import MAX_PIPELINE
from app.engine.wire import messages as m
from app.engine.wire.codec import MAX_ACCEPTED_BLOCK, encode_handshake, piece_header
from tests.hostile.helpers import PIECE_LENGTH, Swarm, close_reasons, honest_swarm, logged_close
from tests.hostile_peer import HOSTILE_HOST, ScriptedListener, ScriptedPeer, random_peer_id


async def _answer_handshake(peer: ScriptedPeer, swarm: Swarm) -> None:
    await peer.read_handshake()
    peer.send_handshake(swarm.meta.info_hash)


async def _offend_leecher(swarm: Swarm, script: ScriptedListener) -> None:
    """The leecher connects to the scripted peer, beside the honest seed; why it hung up."""
    port = await script.start()
    try:
        swarm.leecher.add_peer(swarm.info_hash, HOSTILE_HOST, port)
        swarm.connect_honest()
        await swarm.finish()
        async with asyncio.timeout(10):
            while not script.hung_up:
                await asyncio.sleep(0.02)
    finally:
        await script.close()


async def test_a_4_gib_length_prefix_is_refused_before_any_allocation(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture,
) -> None:
    async def script(peer: ScriptedPeer) -> None:
        await _answer_handshake(peer, swarm)
        peer.send(b"\xff\xff\xff\xff" + bytes(1000))

    async with honest_swarm(tmp_path) as swarm:
        await _offend_leecher(swarm, ScriptedListener(script))
    reasons = close_reasons(peer_log, HOSTILE_HOST)
    assert any("message of 4294967295 bytes exceeds" in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (m.Request(19, 0, PIECE_LENGTH), "request outside the torrent: piece 19+0"),
        (m.Request(18, 0, PIECE_LENGTH), "request outside the torrent: piece 18+0"),  # past the short last piece
        (m.Request(0, 2**32 - 1, 1), "request outside the torrent"),
        (m.Request(0, 0, MAX_ACCEPTED_BLOCK + 1), f"block length {MAX_ACCEPTED_BLOCK + 1} is out of bounds"),
    ],
)
async def test_a_request_outside_the_torrent_or_too_large_is_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, request_: m.Request, reason: str
) -> None:
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.seed.listen_port or 0)
        peer.send_handshake(swarm.meta.info_hash)
        await peer.read_handshake()
        peer.send(m.Interested(), request_)
        assert await peer.wait_closed()
        await swarm.finish()
    assert any(reason in logged for logged in close_reasons(peer_log, HOSTILE_HOST))


async def test_a_flood_of_unsolicited_pieces_is_dropped_and_never_buffered(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture
) -> None:
    async def script(peer: ScriptedPeer) -> None:
        await _answer_handshake(peer, swarm)
        for _ in range(2 * MAX_PIPELINE + 50):  # more than a cancelled pipeline could explain
            peer.send(piece_header(0, 0, PIECE_LENGTH) + bytes(PIECE_LENGTH))
        await peer.writer.drain()

    async with honest_swarm(tmp_path) as swarm:
        listener = ScriptedListener(script)
        swarm.leecher.add_peer(swarm.info_hash, HOSTILE_HOST, await listener.start())
        try:
            assert "too many blocks we did not ask for" in await logged_close(peer_log, HOSTILE_HOST)
        finally:
            await listener.close()
        details = swarm.leecher.details(swarm.info_hash)
        assert details is not None and not any(details.pieces)  # no block was taken in
        await swarm.finish()


@pytest.mark.parametrize(
    ("bitfield", "reason"),
    [
        (bytes(4), "bitfield is 4 bytes, expected 3 for 19 pieces"),
        (bytes(2), "bitfield is 2 bytes, expected 3 for 19 pieces"),
        (b"\xff\xff\xe1", "bitfield has spare bits set"),
    ],
)
async def test_a_bitfield_of_the_wrong_size_or_with_spare_bits_is_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, bitfield: bytes, reason: str
) -> None:
    async def script(peer: ScriptedPeer) -> None:
        await _answer_handshake(peer, swarm)
        peer.send(m.BitfieldMessage(bitfield), m.Unchoke())

    assert len(Bitfield(19).to_bytes()) == 3
    async with honest_swarm(tmp_path) as swarm:
        await _offend_leecher(swarm, ScriptedListener(script))
    assert reason in close_reasons(peer_log, HOSTILE_HOST)


async def test_a_handshake_with_the_wrong_info_hash_is_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture,
) -> None:
    async def script(peer: ScriptedPeer) -> None:
        await peer.read_handshake()
        peer.send_handshake(bytes(20))

    async with honest_swarm(tmp_path) as swarm:
        await _offend_leecher(swarm, ScriptedListener(script))
    assert "handshake with the wrong info-hash" in close_reasons(peer_log, HOSTILE_HOST)


async def test_a_handshake_with_our_own_peer_id_is_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture,
) -> None:
    async def script(peer: ScriptedPeer) -> None:
        theirs = await peer.read_handshake()
        peer.send_handshake(swarm.meta.info_hash, theirs.peer_id)  # a mirror: ourselves

    async with honest_swarm(tmp_path) as swarm:
        await _offend_leecher(swarm, ScriptedListener(script))
    assert "connected to ourselves" in close_reasons(peer_log, HOSTILE_HOST)


async def test_an_incoming_handshake_for_an_unknown_torrent_is_refused(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture,
) -> None:
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.seed.listen_port or 0)
        peer.send_handshake(bytes(20))
        assert await peer.wait_closed()
        await swarm.finish()
    assert "handshake for a torrent we do not have" in close_reasons(peer_log, HOSTILE_HOST)


async def test_a_peer_dribbling_its_handshake_is_dropped(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_module, "HANDSHAKE_TIMEOUT", 0.5)
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.seed.listen_port or 0)
        dribbling = asyncio.ensure_future(peer.dribble(encode_handshake(swarm.meta.info_hash, random_peer_id()), 0.1))
        assert await peer.wait_closed(5.0)
        await dribbling
        await swarm.finish()
    assert "no handshake" in close_reasons(peer_log, HOSTILE_HOST)


async def test_a_peer_sending_one_byte_at_a_time_is_dropped(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A byte now and then is not a message: only whole messages keep a connection alive."""
    monkeypatch.setattr(heartbeat, "TICK", 0.1)
    monkeypatch.setattr(peer_protocol, "IDLE_TIMEOUT", 1.0)
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.leecher.listen_port or 0)
        peer.send_handshake(swarm.meta.info_hash)
        await peer.read_handshake()
        message = piece_header(0, 0, 100) + bytes(100)  # 11 s at this pace
        dribbling = asyncio.ensure_future(peer.dribble(message, 0.1))
        assert await peer.wait_closed(5.0)
        await dribbling
        await swarm.finish()
    assert "the peer stopped responding" in await logged_close(peer_log, HOSTILE_HOST)


async def test_a_peer_dropped_for_breaking_the_protocol_is_named_at_info_level(
    tmp_path: Path, peer_log: pytest.LogCaptureFixture
) -> None:
    async with honest_swarm(tmp_path) as swarm:
        peer = await ScriptedPeer.connect(swarm.seed.listen_port or 0)
        peer.send_handshake(swarm.meta.info_hash, b"-TR4050-" + random_peer_id()[8:])
        await peer.read_handshake()
        peer.send(m.Interested(), m.Request(19, 0, PIECE_LENGTH))
        assert await peer.wait_closed()
        await swarm.finish()
    closes = [r for r in peer_log.records if r.name == "app.engine.peer" and r.getMessage().startswith("closing")]
    dropped = [r for r in closes if r.getMessage().startswith(f"closing {HOSTILE_HOST}:")]
    assert [r.levelname for r in dropped] == ["INFO"]
    assert re.fullmatch(
        rf"closing {HOSTILE_HOST}:\d+ \(Transmission 4\.0\.5\): request outside the torrent: piece 19\+0.*",
        dropped[0].getMessage(),
    ), dropped[0].getMessage()
    ordinary = [r for r in closes if r not in dropped]
    assert ordinary and {r.levelname for r in ordinary} == {"DEBUG"}  # e.g. both sides are seeds
