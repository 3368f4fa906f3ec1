"""Super-seeding (BEP 16) against real libtorrent leechers: all of them finish, and each
Piecemeal peer on the wire is shown one piece at a time."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder
from tests.hostile_peer import ScriptedPeer
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.swarm_helpers import running_session, torrent_snapshot, wait_for_state

pytestmark = pytest.mark.interop

SEED = "127.0.0.2"
LEECHERS = ("127.0.0.6", "127.0.0.7", "127.0.0.9")
PIECE = 32 * 1024
WAIT = 90.0
FAST_ONLY = bytes([0, 0, 0, 0, 0, 0, 0, 0x04])  # BEP 6, so that a refused request is answered


async def _super_seed(session: Session, torrent: bytes | object, folder: Path) -> str:
    info_hash = await session.add_torrent(torrent, folder)
    await wait_for_state(session, info_hash, TorrentState.SEEDING)
    torrent_of = session.torrents[bytes.fromhex(info_hash)]
    await session.set_options(info_hash, replace(torrent_of.options, super_seeding=True))
    return info_hash


async def test_three_libtorrent_leechers_finish_from_a_super_seed(tmp_path: Path) -> None:
    content = random_tree(tmp_path / "seed" / "super", {"a.bin": 40 * PIECE + 123, "b.bin": 9 * PIECE})
    torrent = make_torrent(content, piece_size=PIECE)
    leechers = [LtPeer(host) for host in LEECHERS]
    try:
        async with running_session(SEED) as seed:
            info_hash = await _super_seed(seed, torrent, content.parent)
            handles = [peer.add(torrent, tmp_path / f"leech{i}") for i, peer in enumerate(leechers)]
            for handle in handles:
                handle.connect_peer((SEED, seed.listen_port))
            for (a, handle), b in itertools.product(enumerate(handles), range(len(leechers))):
                if a != b:
                    handle.connect_peer((leechers[b].host, leechers[b].port))  # they pass pieces on
            async with asyncio.timeout(WAIT):
                while not all(h.status().is_seeding for h in handles):
                    await asyncio.sleep(0.1)
            uploaded = torrent_snapshot(seed, info_hash).uploaded
    finally:
        for peer in leechers:
            peer.close()
    total = sum(f.stat().st_size for f in content.iterdir())
    for i in range(len(leechers)):
        for name in ("a.bin", "b.bin"):
            assert (tmp_path / f"leech{i}" / "super" / name).read_bytes() == (content / name).read_bytes()
    print(f"super-seed uploaded {uploaded} bytes for {total} bytes of content, 3 leechers")
    assert uploaded < len(leechers) * total  # the leechers fed each other


class WirePeer:
    """A scripted peer that reads the session's messages as they come."""

    def __init__(self, peer: ScriptedPeer) -> None:
        self.peer = peer
        self.decoder = WireDecoder()

    @classmethod
    async def join(cls, port: int, info_hash: bytes, source: str) -> WirePeer:
        wire = cls(await ScriptedPeer.connect(port, host=SEED, source=source))
        wire.peer.send_handshake(info_hash, reserved=FAST_ONLY)
        return wire

    async def until(self, kind: type | tuple[type, ...]) -> list[m.Message]:
        """Every message up to and including the first of `kind`."""
        seen: list[m.Message] = []
        async with asyncio.timeout(20):
            while not seen or not isinstance(seen[-1], kind):
                events = list(self.decoder.events())
                if events:
                    seen.extend(e for e in events if not isinstance(e, m.Handshake))
                    continue
                data = await self.peer.reader.read(65536)
                assert data, "the session hung up"
                self.decoder.feed(data)
        return seen


def _haves(messages: list[m.Message]) -> list[int]:
    return [msg.index for msg in messages if isinstance(msg, m.Have)]


async def test_each_peer_is_shown_one_piece_until_another_peer_has_it(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "pieces", {"a.bin": 8 * PIECE})
    torrent = create_torrent(payload, piece_length=PIECE)
    async with running_session(SEED) as seed:
        info_hash = await _super_seed(seed, torrent, payload.parent)
        ih = bytes.fromhex(info_hash)
        a = await WirePeer.join(seed.listen_port, ih, "127.0.0.6")
        b = await WirePeer.join(seed.listen_port, ih, "127.0.0.7")
        first_a, first_b = await a.until(m.Have), await b.until(m.Have)
        assert not any(isinstance(msg, (m.BitfieldMessage, m.HaveAll, m.AllowedFast)) for msg in first_a + first_b)
        assert any(isinstance(msg, m.HaveNone) for msg in first_a)  # BEP 6 peers hear "nothing" first
        (piece_a,), (piece_b,) = _haves(first_a), _haves(first_b)
        assert piece_a != piece_b

        other = next(p for p in range(8) if p not in (piece_a, piece_b))
        a.peer.send(m.Have(piece_a), m.Request(other, 0, 16 * 1024))  # the answer orders the stream
        assert _haves(await a.until((m.Reject, m.Piece))) == []  # a has it, but nobody else yet

        b.peer.send(m.Have(piece_a))  # b got it from a: a passed it on
        (next_a,) = _haves(await a.until(m.Have))
        assert next_a not in (piece_a, piece_b)
        a.peer.close()
        b.peer.close()
