"""Network settings changed while torrents run: the listen socket, and the trackers, follow."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import fields
from pathlib import Path

import bencodepy
import pytest
from aiohttp import web

from app.engine.creator import create_torrent
from app.engine.errors import EngineError
from app.engine.session import _SETTING_REACTIONS, AT_START_ONLY, READ_WHERE_USED, Session, SessionConfig
from app.engine.storage.disk import OpenFiles
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.http_server import serving
from tests.swarm_helpers import eventually, running_session, wait_for_state

PIECE = 32 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    return True


class RecordingTracker:
    """An HTTP tracker on 127.0.0.1 that remembers who announced, from where, with which port."""

    def __init__(self) -> None:
        self.announces: list[tuple[str, int]] = []  # (source address, port parameter)
        self.url = ""

    async def announce(self, request: web.Request) -> web.Response:
        self.announces.append((request.remote or "", int(request.query["port"])))
        return web.Response(body=bencodepy.encode({b"interval": 1800, b"peers": b""}))


@pytest.fixture
async def tracker() -> AsyncIterator[RecordingTracker]:
    recorder = RecordingTracker()
    app = web.Application()
    app.router.add_get("/announce", recorder.announce)
    async with serving(app) as base:
        recorder.url = base + "announce"
        yield recorder


async def seeding_with_tracker(session: Session, tmp_path: Path, url: str) -> str:
    payload = random_tree(tmp_path / "payload", {"a.bin": 2 * PIECE})
    info_hash = await session.add_torrent(create_torrent(payload, trackers=[[url]], piece_length=PIECE), tmp_path)
    await wait_for_state(session, info_hash, TorrentState.SEEDING)
    return info_hash


async def test_a_new_host_on_the_same_port_is_listened_on(tmp_path: Path) -> None:
    port = free_port()
    async with running_session("127.0.0.1", listen_port=port) as session:
        await session.set_config(listen_host="0.0.0.0")  # binding every address clashes with the old socket
        assert session.listen_port == port and await accepts("127.0.0.1", port)
        await session.set_config(listen_host="127.0.0.1")
        assert session.listen_port == port and await accepts("127.0.0.1", port)


async def test_a_host_that_cannot_be_used_changes_nothing(tmp_path: Path) -> None:
    port = free_port()
    async with running_session("127.0.0.1", listen_port=port) as session:
        before, http = session.config, session.http
        with pytest.raises(EngineError, match=f"port {port}"):
            await session.set_config(listen_host="192.0.2.1", up_limit=1000)  # TEST-NET-1: not ours
        assert session.config == before and session.http is http
        assert session.listen_port == port and await accepts("127.0.0.1", port)


async def test_running_torrents_announce_the_new_port_from_the_new_address(
    tmp_path: Path, tracker: RecordingTracker
) -> None:
    async with running_session("127.0.0.1") as session:
        info_hash = await seeding_with_tracker(session, tmp_path, tracker.url)
        await eventually(lambda: len(tracker.announces) == 1, "the first announce")
        assert tracker.announces[0] == ("127.0.0.1", session.listen_port)

        new_port = free_port()
        await session.set_config(listen_port=new_port)
        await eventually(lambda: len(tracker.announces) == 2, "an announce with the new port")
        assert tracker.announces[1] == ("127.0.0.1", new_port)

        await session.set_config(listen_host="127.0.0.2")  # a new HTTP client; the old one is closed
        await eventually(lambda: len(tracker.announces) == 3, "an announce from the new address")
        assert tracker.announces[2] == ("127.0.0.2", new_port)
        torrent = session.torrents[bytes.fromhex(info_hash)]
        await eventually(lambda: torrent.trackers.snapshot()[0].status == "working", "the answer")
        assert torrent.trackers.status_text == ""



def test_every_setting_is_read_where_used_reacted_to_or_kept_for_the_next_start():
    """One mechanism for live settings: a new SessionConfig field must be put in one place."""
    reacted = frozenset().union(*(names for names, _ in _SETTING_REACTIONS))
    names = {field.name for field in fields(SessionConfig)}
    assert names == reacted | READ_WHERE_USED | AT_START_ONLY, "every setting has a kind"
    assert not reacted & READ_WHERE_USED and not reacted & AT_START_ONLY and not READ_WHERE_USED & AT_START_ONLY


async def test_intervals_and_the_open_file_cap_follow_a_live_change(tmp_path: Path):
    async with running_session(profile_dir=tmp_path / "profile") as session:
        await session.set_config(watch_interval=7.0, rss_interval=900.0)
        assert (session.watcher.interval, session.rss.interval) == (7.0, 900.0)


def test_a_smaller_open_file_cap_closes_the_idle_files_past_it(tmp_path: Path):
    files = OpenFiles(capacity=5)
    paths = [tmp_path / f"f{i}" for i in range(5)]
    for index, path in enumerate(paths):
        path.write_bytes(b"x")
        with files.use(("owner", index), False, lambda i, _w: os.open(paths[i], os.O_RDONLY)):
            pass
    assert len(files) == 5
    files.resize(3)
    assert len(files) == 3
