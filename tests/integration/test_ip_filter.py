"""A blocked address is refused both ways, by real Piecemeal sessions on 127.0.0.x, while
another address connects; a ban from the peer table disconnects and blocks too."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, running_session, torrent_snapshot, wait_for_state

SEED, BLOCKED, ALLOWED = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _peers(session: Session, info_hash: str) -> int:
    snap = torrent_snapshot(session, info_hash)
    return snap.peers + snap.seeds


@pytest.mark.parametrize("transport", ["both", "utp"])  # "both" must not fall back to uTP for a blocked peer
async def test_a_listed_address_is_refused_both_ways_while_another_connects(tmp_path: Path, transport: str) -> None:
    payload = random_tree(tmp_path / "seed" / "payload", {"a.bin": 300_000, "b.bin": 70_000})
    torrent = create_torrent(payload, piece_length=32 * 1024)
    block_list = tmp_path / "list.dat"
    block_list.write_text("127.000.000.003 - 127.000.000.003 , 000 , the blocked one\nnot a rule\n")
    async with (running_session(SEED, ip_filter_path=block_list, transport=transport) as seed,
                running_session(BLOCKED, transport=transport) as blocked,
                running_session(ALLOWED, transport=transport) as allowed):
        assert "line 2: 'not a rule'" in seed.snapshot().ip_filter
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await blocked.add_torrent(torrent, tmp_path / "blocked")
        await allowed.add_torrent(torrent, tmp_path / "allowed")

        seed.add_peer(info_hash, BLOCKED, blocked.listen_port)  # outgoing: never dialed
        await eventually(lambda: seed.snapshot().blocked_connections >= 1, "the seed declined to dial")
        dialed = seed.snapshot().blocked_connections
        blocked.add_peer(info_hash, SEED, seed.listen_port)  # incoming: refused at accept
        await eventually(lambda: seed.snapshot().blocked_connections > dialed, "the seed refused the blocked peer")

        allowed.add_peer(info_hash, SEED, seed.listen_port)
        await wait_for_state(allowed, info_hash, TorrentState.SEEDING)
        assert (tmp_path / "allowed" / "payload" / "a.bin").read_bytes() == (payload / "a.bin").read_bytes()
        assert _peers(blocked, info_hash) == 0
        assert torrent_snapshot(blocked, info_hash).downloaded == 0


async def test_a_ban_disconnects_the_peer_and_refuses_it_again(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "payload", {"a.bin": 200_000})
    torrent = create_torrent(payload, piece_length=32 * 1024)
    async with running_session(SEED, up_limit=20_000) as seed, running_session(ALLOWED) as other:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await other.add_torrent(torrent, tmp_path / "other")
        other.add_peer(info_hash, SEED, seed.listen_port)
        await eventually(lambda: _peers(seed, info_hash) == 1, "the peer connected")

        await seed.set_config(banned_peers=(ALLOWED,))
        await eventually(lambda: _peers(seed, info_hash) == 0, "the banned peer was dropped")
        before = seed.snapshot().blocked_connections
        other.add_peer(info_hash, SEED, seed.listen_port)
        await eventually(lambda: seed.snapshot().blocked_connections > before, "the banned peer was refused")
        assert _peers(seed, info_hash) == 0
