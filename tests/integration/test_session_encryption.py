"""The encryption setting on a running session: it applies to the next connection, and bad values are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.errors import EngineError
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from app.engine.wire.codec import encode_handshake
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, wait_for_state

WAIT = 15.0


async def plain_handshake_answered(session: Session, info_hash: bytes) -> bool:
    """Dial the session in plaintext: does it answer with its own handshake, or hang up?"""
    reader, writer = await asyncio.open_connection("127.0.0.1", session.listen_port)
    try:
        writer.write(encode_handshake(info_hash, b"-XX0000-plainplain00"))
        async with asyncio.timeout(WAIT):
            answer = await reader.read(68)
        return answer[:20] == b"\x13BitTorrent protocol"
    finally:
        writer.close()


async def test_require_takes_effect_on_the_next_connection(tmp_path: Path) -> None:
    data = random_tree(tmp_path / "data", {"f.bin": 100_000})
    async with running_session() as session:
        hex_hash = await session.add_torrent(create_torrent(data / "f.bin", piece_length=32768), data)
        await wait_for_state(session, hex_hash, TorrentState.SEEDING)
        assert await plain_handshake_answered(session, bytes.fromhex(hex_hash))
        await session.set_config(encryption="require")
        assert not await plain_handshake_answered(session, bytes.fromhex(hex_hash))
        await session.set_config(encryption="allow")
        assert await plain_handshake_answered(session, bytes.fromhex(hex_hash))


async def test_an_unknown_encryption_choice_is_refused_in_plain_words() -> None:
    async with running_session() as session:
        with pytest.raises(EngineError, match="allow, require or disable"):
            await session.set_config(encryption="sometimes")
        assert session.config.encryption == "allow"


async def test_connections_still_in_their_first_handshake_count_toward_max_peers() -> None:
    """Silent connections cannot pile up before either handshake: the one past max_peers is shut at once."""
    async with running_session(max_peers=2) as session:
        held = [await asyncio.open_connection("127.0.0.1", session.listen_port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", session.listen_port)
        async with asyncio.timeout(WAIT):
            assert await reader.read() == b""  # closed without a word
        assert all(not r.at_eof() for r, _ in held)
        for _, w in [*held, (reader, writer)]:
            w.close()
