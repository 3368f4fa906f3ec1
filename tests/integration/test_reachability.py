"""What the status bar says about reachability, from real sessions on loopback (no router asked)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.portmap.status import MapState
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, wait_for_state


async def test_peers_that_reach_us_are_counted(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed", {"a.bin": 64 * 1024})
    torrent = create_torrent(payload, piece_length=32 * 1024)
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert seed.snapshot().reachability == "Port mapping is off"
        await leecher.add_torrent(torrent, tmp_path / "leech")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port or 0)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert seed.snapshot().incoming_connections == 1
        assert seed.snapshot().reachability == "Reachable: 1 incoming connection"
        assert leecher.snapshot().incoming_connections == 0  # it dialled out: nobody reached it


async def test_bound_to_loopback_no_router_is_asked_and_the_status_says_why() -> None:
    async with running_session(port_mapping=True) as session:
        status = session.snapshot().port_mapping
        assert status.state == MapState.FAILED
        assert status.summary == "No port mapping: the client is bound to 127.0.0.1, which only this computer can reach"
        await session.set_config(port_mapping=False)
        assert session.snapshot().port_mapping.state == MapState.OFF


@pytest.mark.parametrize("on", [True, False])
async def test_switching_port_mapping_live_takes_effect_at_once(on: bool) -> None:
    async with running_session(port_mapping=not on) as session:
        await session.set_config(port_mapping=on)
        await asyncio.sleep(0)
        assert (session.snapshot().port_mapping.state == MapState.FAILED) is on
