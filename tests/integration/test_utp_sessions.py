"""Piecemeal to Piecemeal over uTP on 127.0.0.1: the transport setting decides how peers connect."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.dht import krpc
from app.engine.session import Session
from app.engine.snapshots import PeerSnapshot, TorrentState
from app.engine.wire.extension import PEX_UTP, PexMessage
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, wait_for_state

SIZES = {"a.bin": 8_000_001, "b/c.bin": 777_777, "empty": 0}
NAMES = [f"payload/{name}" for name in SIZES]


async def first_peer(session: Session, info_hash: str, timeout: float = 30) -> PeerSnapshot:
    async with asyncio.timeout(timeout):
        while True:
            details = session.details(info_hash)
            if details is not None and details.peers:
                return details.peers[0]
            await asyncio.sleep(0.05)


async def swarm(
    tmp_path: Path, seed_transport: str, leecher_transport: str, encryption: str = "allow",
    bind: str = "127.0.0.1", peer_host: str = "127.0.0.1",
) -> tuple[PeerSnapshot, PeerSnapshot]:
    """A seed and a leecher bound to `bind` ("": both stacks); the leecher dials the seed at `peer_host`."""
    payload = random_tree(tmp_path / "seed" / "payload", SIZES)
    torrent = create_torrent(payload, trackers=[], piece_length=64 * 1024)
    async with (
        running_session(bind, transport=seed_transport, encryption=encryption) as seed,
        running_session(bind, transport=leecher_transport, encryption=encryption) as leecher,
    ):
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, tmp_path / "leech")
        assert seed.listen_port is not None
        family = socket.AF_INET6 if ":" in peer_host else socket.AF_INET
        assert seed.utp[family].port == seed.listen_port  # one port number for TCP and UDP
        leecher.add_peer(info_hash, peer_host, seed.listen_port)
        seen_by_leecher = await first_peer(leecher, info_hash)
        seen_by_seed = await first_peer(seed, info_hash)  # before it is done: two seeds part
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    assert_same_files(payload.parent, tmp_path / "leech", NAMES)
    return seen_by_leecher, seen_by_seed


async def test_a_download_over_utp_only_arrives_byte_for_byte(tmp_path: Path) -> None:
    by_leecher, by_seed = await swarm(tmp_path, "utp", "utp")
    assert by_leecher.transport == by_seed.transport == "uTP"
    assert "P" in by_leecher.flags.split() and by_seed.incoming


@pytest.mark.parametrize(("bind", "transport"), [("::1", "utp"), ("", "utp"), ("", "utp-first")])
async def test_a_download_over_utp_on_ipv6_arrives_byte_for_byte(bind: str, transport: str, tmp_path: Path) -> None:
    """uTP over IPv6 on ::1: bound to ::1 (IPv6 only), or unbound (both stacks) dialing [::1]."""
    by_leecher, by_seed = await swarm(tmp_path, "both", transport, bind=bind, peer_host="::1")
    assert by_leecher.transport == by_seed.transport == "uTP"
    assert by_leecher.address.startswith("[::1]:") and by_seed.address.startswith("[::1]:")


async def test_encryption_runs_over_utp(tmp_path: Path) -> None:
    by_leecher, by_seed = await swarm(tmp_path, "utp", "utp", encryption="require")
    assert by_leecher.transport == by_seed.transport == "uTP"
    assert by_leecher.encrypted and by_seed.encrypted


async def test_both_dials_tcp_first(tmp_path: Path) -> None:
    by_leecher, _ = await swarm(tmp_path, "both", "both")
    assert by_leecher.transport == "TCP"


async def test_utp_first_connects_over_utp_while_tcp_is_open(tmp_path: Path) -> None:
    """The seed accepts both; the leecher prefers uTP: the connection is uTP on both sides."""
    by_leecher, by_seed = await swarm(tmp_path, "both", "utp-first")
    assert by_leecher.transport == by_seed.transport == "uTP"
    assert by_seed.incoming and not by_leecher.incoming


async def test_a_changed_dial_order_applies_to_the_next_connection(tmp_path: Path) -> None:
    """set_config(transport=...) on a running session: the next dial follows it, no restart."""
    payload = random_tree(tmp_path / "seed" / "payload", SIZES)
    torrent = create_torrent(payload, trackers=[], piece_length=64 * 1024)
    async with running_session() as seed, running_session(down_limit=200_000) as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert seed.listen_port is not None
        await leecher.add_torrent(torrent, tmp_path / "leech")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        assert (await first_peer(leecher, info_hash)).transport == "TCP"
        await leecher.set_config(transport="utp-first")
        await leecher.pause(info_hash)  # the peer goes; resumed, it is dialed again
        await leecher.resume(info_hash)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        assert (await first_peer(leecher, info_hash)).transport == "uTP"


async def test_both_falls_back_to_utp_when_tcp_is_refused(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "payload", SIZES)
    torrent = create_torrent(payload, trackers=[], piece_length=64 * 1024)
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert seed._server is not None and seed.listen_port is not None
        seed._server.close()  # its TCP port now refuses; its UDP port (uTP) still answers
        await seed._server.wait_closed()
        await leecher.add_torrent(torrent, tmp_path / "leech")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        by_leecher = await first_peer(leecher, info_hash)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    assert by_leecher.transport == "uTP"
    assert_same_files(payload.parent, tmp_path / "leech", NAMES)


async def test_both_falls_back_to_tcp_when_the_peer_refuses_utp(tmp_path: Path) -> None:
    by_leecher, by_seed = await swarm(tmp_path, "tcp", "both")
    assert by_leecher.transport == by_seed.transport == "TCP"


async def test_pex_says_which_peers_speak_utp(tmp_path: Path) -> None:
    """BEP 11 added.f 0x04: the seed tells a newcomer that the peer it reaches over uTP speaks it."""
    payload = random_tree(tmp_path / "seed" / "payload", SIZES)
    torrent = create_torrent(payload, trackers=[], piece_length=64 * 1024)
    received: list[PexMessage] = []
    async with (
        running_session(transport="utp") as seed,
        running_session(transport="utp", down_limit=100_000) as slow,  # both still downloading
        running_session(transport="utp", down_limit=100_000) as newcomer,  # when the seed sends PEX
    ):
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert seed.listen_port is not None and slow.listen_port is not None
        await slow.add_torrent(torrent, tmp_path / "slow")
        slow.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        await first_peer(seed, info_hash)
        await newcomer.add_torrent(torrent, tmp_path / "new")
        watched = newcomer.torrents[bytes.fromhex(info_hash)]
        original = watched.pex_received
        watched.pex_received = lambda peer, message: (received.append(message), original(peer, message))[1]  # type: ignore[method-assign]
        newcomer.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        async with asyncio.timeout(30):
            while not any(("127.0.0.1", slow.listen_port) in message.added for message in received):
                await asyncio.sleep(0.05)
    flags = {peer: flag for message in received for peer, flag in zip(message.added, message.added_flags)}
    assert flags[("127.0.0.1", slow.listen_port)] & PEX_UTP


async def test_a_peer_pex_says_speaks_utp_is_dialed_over_utp_first(tmp_path: Path) -> None:
    """BEP 11 0x04: the newcomer dials TCP first ("both"), but a peer that PEX flags as uTP goes
    over uTP first, though it takes TCP too. The slow peer reached the seed over uTP."""
    payload = random_tree(tmp_path / "seed" / "payload", SIZES)
    torrent = create_torrent(payload, trackers=[], piece_length=64 * 1024)
    async with (
        running_session() as seed,
        # still downloading; deaf to PEX, so the newcomer dials it and not the other way round
        running_session(transport="utp-first", down_limit=100_000, enable_pex=False) as slow,
        running_session(down_limit=100_000) as newcomer,  # when the seed sends PEX
    ):
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert seed.listen_port is not None and slow.listen_port is not None
        await slow.add_torrent(torrent, tmp_path / "slow")
        slow.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        assert (await first_peer(seed, info_hash)).transport == "uTP"
        await newcomer.add_torrent(torrent, tmp_path / "new")
        newcomer.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        assert (await first_peer(newcomer, info_hash)).transport == "TCP"  # the seed came from add_peer
        slow_peer = await peer_at(newcomer, info_hash, ("127.0.0.1", slow.listen_port))
    assert slow_peer.transport == "uTP" and not slow_peer.incoming


async def peer_at(session: Session, info_hash: str, address: tuple[str, int], timeout: float = 30) -> PeerSnapshot:
    try:
        async with asyncio.timeout(timeout):
            while True:
                details = session.details(info_hash)
                found = [p for p in details.peers if p.address == f"{address[0]}:{address[1]}"] if details else []
                if found:
                    return found[0]
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"no peer at {address} within {timeout} s")


async def test_each_family_shares_its_udp_socket_with_its_dht_node() -> None:
    """Unbound: uTP over IPv4 and over IPv6, each on a socket at the TCP port's number that its
    family's DHT node (BEP 5, BEP 32) shares and answers on."""
    async with running_session("", enable_dht=True, dht_bootstrap=()) as session:
        assert session.dht is not None and set(session.utp) == {socket.AF_INET, socket.AF_INET6}
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            port = session.utp[family].port
            assert session.dht.nodes[family].port == port == session.listen_port
            answer = await ping(host, port)
            assert isinstance(answer, krpc.Response) and answer.transaction_id == b"pm", host


async def ping(host: str, port: int) -> krpc.Message:
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Asker(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(Asker, remote_addr=(host, port))
    try:
        transport.sendto(krpc.encode(krpc.Ping(b"pm", b"C" * 20)))
        return krpc.decode(await asyncio.wait_for(answers.get(), 10))
    except TimeoutError:
        pytest.fail(f"the DHT node on [{host}]:{port} did not answer a ping")
    finally:
        transport.close()
