"""MSE/PE with real peers: libtorrent forcing RC4 both ways, Piecemeal to Piecemeal, refusals, fallback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import libtorrent as lt
import pytest

from app.engine.session import Session
from app.engine.transport.mse_transport import Encryption
from app.engine.snapshots import PeerSnapshot, TorrentState
from tests.lt_peer import LtPeer, make_torrent, random_tree, throttle_loopback
from tests.swarm_helpers import assert_same_files, loopback_config, running_session, wait_for_state

pytestmark = pytest.mark.interop

SIZES = {"enc/a.bin": 1_500_001, "enc/sub/b.bin": 300_007}
NAMES = ["a.bin", "sub/b.bin"]
FORCED_RC4 = {"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2}  # pe_forced, pe_rc4
PLAINTEXT_ONLY = {"out_enc_policy": 2, "in_enc_policy": 2}  # pe_disabled
RATE = 1_000_000  # bytes/s: slow enough to see the peer while the data flows
WAIT = 60.0


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    random_tree(tmp_path / "seed", SIZES)
    return tmp_path / "seed" / "enc"


async def wait_peer_flags(session: Session, info_hash: str) -> str:
    """The flags of the first connected peer, waited for."""
    async with asyncio.timeout(WAIT):
        while True:
            details = session.details(info_hash)
            if details is not None and details.peers:
                return details.peers[0].flags
            await asyncio.sleep(0.02)


async def wait_lt_rc4(handle: lt.torrent_handle) -> None:
    """libtorrent says its connection to us is RC4-encrypted."""
    async with asyncio.timeout(WAIT):
        while not any(p.flags & lt.peer_info.rc4_encrypted for p in handle.get_peer_info()):
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("policy", ["allow", "require"])
async def test_download_from_libtorrent_forcing_rc4(policy: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536)
    seed = LtPeer("127.0.0.2", **FORCED_RC4)
    throttle_loopback(seed, RATE)
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.add(torrent, payload.parent))
        async with running_session(encryption=policy) as session:
            info_hash = await session.add_torrent(torrent, tmp_path / "down")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            assert "E" in (await wait_peer_flags(session, info_hash)).split()
            await wait_for_state(session, info_hash, TorrentState.SEEDING, WAIT)
    finally:
        seed.close()
    assert_same_files(payload, tmp_path / "down" / "enc", NAMES)


@pytest.mark.parametrize("policy", ["allow", "require"])
async def test_libtorrent_forcing_rc4_downloads_from_us(policy: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=32768)
    leech = LtPeer("127.0.0.3", **FORCED_RC4)
    try:
        async with running_session(encryption=policy, up_limit=RATE) as session:
            info_hash = await session.add_torrent(torrent, payload.parent)
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
            handle = leech.add(torrent, tmp_path / "lt")
            handle.connect_peer(("127.0.0.1", session.listen_port))
            await wait_lt_rc4(handle)
            assert "E" in (await wait_peer_flags(session, info_hash)).split()
            await asyncio.to_thread(leech.wait_seeding, handle, WAIT)
    finally:
        leech.close()
    assert_same_files(payload, tmp_path / "lt" / "enc", NAMES)


async def test_piecemeal_to_piecemeal_both_requiring(payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536)
    async with running_session("127.0.0.1", encryption="require", up_limit=RATE) as seeder:
        async with running_session("127.0.0.2", encryption="require") as leecher:
            ih = await seeder.add_torrent(torrent, payload.parent)
            await wait_for_state(seeder, ih, TorrentState.SEEDING)
            await leecher.add_torrent(torrent, tmp_path / "down")
            leecher.add_peer(ih, "127.0.0.1", seeder.listen_port)
            assert "E" in (await wait_peer_flags(leecher, ih)).split()
            assert "E" in (await wait_peer_flags(seeder, ih)).split()
            await wait_for_state(leecher, ih, TorrentState.SEEDING, WAIT)
    assert_same_files(payload, tmp_path / "down" / "enc", NAMES)


async def test_require_refuses_a_plaintext_peer_and_says_why(
    payload: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.engine.transport.mse_transport")
    torrent = make_torrent(payload, piece_size=65536)
    plain = LtPeer("127.0.0.3", **PLAINTEXT_ONLY)
    try:
        async with running_session(encryption="require") as session:
            info_hash = await session.add_torrent(torrent, payload.parent)
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
            plain.add(torrent, tmp_path / "lt").connect_peer(("127.0.0.1", session.listen_port))
            async with asyncio.timeout(WAIT):
                while "a plaintext handshake, and encryption is required" not in caplog.text:
                    await asyncio.sleep(0.02)
            details = session.details(info_hash)
            assert details is not None and not details.peers
    finally:
        plain.close()


async def test_allow_falls_back_to_plaintext_with_a_plaintext_only_peer(payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536)
    seed = LtPeer("127.0.0.2", **PLAINTEXT_ONLY)
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.add(torrent, payload.parent))
        session = Session(loopback_config(encryption="allow"))
        await session.start()
        try:
            info_hash = await session.add_torrent(torrent, tmp_path / "down")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            await wait_for_state(session, info_hash, TorrentState.SEEDING, WAIT)
        finally:
            await session.close()
    finally:
        seed.close()
    assert_same_files(payload, tmp_path / "down" / "enc", NAMES)


async def wait_outgoing_peer(session: Session, info_hash: str) -> PeerSnapshot:
    """The first connected peer once there is one, waited for; it must be one we dialed."""
    async with asyncio.timeout(WAIT):
        while True:
            details = session.details(info_hash)
            if details is not None and details.peers:
                peer = details.peers[0]
                assert not peer.incoming, "libtorrent dialed us: this test is about our dials"
                return peer
            await asyncio.sleep(0.02)


async def wait_no_peers(session: Session, info_hash: str) -> None:
    async with asyncio.timeout(WAIT):
        while (details := session.details(info_hash)) is None or details.peers:
            await asyncio.sleep(0.02)


async def test_a_peer_that_refused_mse_is_dialed_plain_first_until_it_refuses_plain(
    payload: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.engine.transport.mse_transport")
    torrent = make_torrent(payload, piece_size=65536)
    seed = LtPeer("127.0.0.2", **PLAINTEXT_ONLY)  # in_enc_policy 2: refuses MSE
    throttle_loopback(seed, RATE // 10)  # still downloading when paused
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.add(torrent, payload.parent))
        refused = f"encrypted handshake with 127.0.0.2:{seed.port} failed"
        async with running_session(encryption="allow") as session:
            info_hash = await session.add_torrent(torrent, tmp_path / "down")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            first = await wait_outgoing_peer(session, info_hash)
            attempts_first = sum(refused in record.getMessage() for record in caplog.records)
            await session.pause(info_hash)
            await wait_no_peers(session, info_hash)
            await session.resume(info_hash)
            second = await wait_outgoing_peer(session, info_hash)
            attempts_both = sum(refused in record.getMessage() for record in caplog.records)
            seed.session.apply_settings(FORCED_RC4)  # now it refuses plaintext instead
            await session.pause(info_hash)
            await wait_no_peers(session, info_hash)
            await session.resume(info_hash)
            third = await wait_outgoing_peer(session, info_hash)
            order_after = session.encryption_memory.dial_order(Encryption.ALLOW, ("127.0.0.2", seed.port))
    finally:
        seed.close()
    assert not first.encrypted and not second.encrypted
    assert attempts_first == 1, "the first dial tries MSE, which libtorrent refuses, then plain"
    assert attempts_both == 1, "the second dial went plain first: no second MSE attempt"
    assert third.encrypted, "plain refused, the third dial took MSE"
    assert order_after == (True, False), "and the peer is dialed MSE first again"
