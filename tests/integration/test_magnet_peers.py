"""A magnet's peers stay connected when the metadata arrives (BEP 9): what they said of
their pieces meanwhile is kept, checked against the real piece count, and counts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from app.engine import events
from app.engine.creator import create_torrent
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.peer import PeerConnection
from app.engine.snapshots import TorrentState
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, encode_handshake
from tests.hostile.helpers import logged_close
from tests.hostile_peer import HOSTILE_HOST, ScriptedPeer, random_peer_id
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, eventually, running_session, wait_for_state

PIECE = 16 * 1024
PIECES = 64
FAST = bytes([0, 0, 0, 0, 0, 0, 0, 0x04])  # BEP 6 bit only: no extension protocol, no metadata


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "p", {"data.bin": PIECES * PIECE})


async def read_until_closed(peer: ScriptedPeer, timeout: float = 30.0) -> list[m.Event]:
    decoder = WireDecoder(max_message=1 << 20)
    async with asyncio.timeout(timeout):
        while data := await peer.reader.read(65536):
            decoder.feed(data)
    return list(decoder.events())


async def test_peers_met_before_the_metadata_stay_and_their_pieces_count(payload: Path, tmp_path: Path) -> None:
    """A scripted seed (have-all, no metadata to give) and a Piecemeal seed (the metadata):
    both connections outlive the metadata, the first becomes a seed we are interested in,
    the second brings every byte of data."""
    torrent = create_torrent(payload, piece_length=PIECE)
    meta = parse_metainfo(torrent)
    at_metadata: dict[PeerConnection, bool] = {}
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
        ours = leecher.torrents[meta.info_hash]

        def on_event(event: events.Event) -> None:
            if isinstance(event, events.MetadataReceived):
                at_metadata.update({p: p.is_seed for p in ours.peers})

        leecher.add_listener(on_event)
        scripted = await ScriptedPeer.connect(leecher.listen_port or 0)
        scripted.send(encode_handshake(meta.info_hash, random_peer_id(), FAST), m.HaveAll())
        await eventually(lambda: len(ours.peers) == 1)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        heard = await read_until_closed(scripted)  # we hang up once both sides are seeds
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)

    assert sorted(p.address[0] for p in at_metadata) == ["127.0.0.1", HOSTILE_HOST]
    [from_seed] = [p for p in at_metadata if p.address[0] == "127.0.0.1"]
    [from_scripted] = [p for p in at_metadata if p.address[0] == HOSTILE_HOST]
    assert at_metadata[from_scripted] and from_scripted.close_reason == "both sides are seeds"
    assert m.Interested() in heard  # told after the check, on the connection made before
    assert from_seed.down.total == PIECES * PIECE
    assert_same_files(payload, tmp_path / "out" / "p", ["data.bin"])


@pytest.mark.parametrize(
    ("said", "reason"),
    [
        ([m.BitfieldMessage(b"\xff")], "bitfield is 1 bytes, expected 8 for 64 pieces"),
        ([m.Have(3), m.Have(64)], "have for piece 64, which does not exist"),
        ([m.Have(10**7)], "have for piece 10000000, more pieces than a torrent can have"),
    ],
    ids=["short-bitfield", "have-past-the-end", "absurd-have"],
)
async def test_what_a_peer_said_before_the_metadata_is_checked_once_it_arrives(
    said: list[m.Message], reason: str, payload: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.engine.peer")
    torrent = create_torrent(payload, piece_length=PIECE)
    meta = parse_metainfo(torrent)
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
        scripted = await ScriptedPeer.connect(leecher.listen_port or 0)
        scripted.send_handshake(meta.info_hash)
        await scripted.read_handshake()
        scripted.send(*said)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        assert await logged_close(caplog, HOSTILE_HOST) == [reason]
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        scripted.close()
