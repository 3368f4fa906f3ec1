"""Adding a torrent that is already in the list merges its trackers (a magnet's web seeds and
peers too) into the one there, remembered across restarts, as qBittorrent does."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.session import DuplicateTorrentError, Session
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session

PIECE = 32 * 1024
# Never contacted: the torrents stay paused.
TRACKER_A, TRACKER_B, TRACKER_C = (f"http://127.0.0.1:9/announce/{name}" for name in "abc")
WEB_SEED = "http://127.0.0.1:9/files/"


def tracker_urls(session: Session, info_hash: str) -> list[str]:
    return [t.url for t in session.torrents[bytes.fromhex(info_hash)].trackers.snapshot()]


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "payload", {"a.bin": 2 * PIECE})


async def test_a_torrent_added_again_brings_its_new_trackers(payload: Path, tmp_path: Path) -> None:
    first = create_torrent(payload, trackers=[[TRACKER_A]], piece_length=PIECE)
    second = create_torrent(payload, trackers=[[TRACKER_A], [TRACKER_B]], piece_length=PIECE)
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile) as session:
        info_hash = await session.add_torrent(first, tmp_path, paused=True)
        assert parse_metainfo(second).info_hash.hex() == info_hash
        with pytest.raises(DuplicateTorrentError, match="already in the list; 1 new tracker merged into it"):
            await session.add_torrent(second, tmp_path)
        assert sorted(tracker_urls(session, info_hash)) == [TRACKER_A, TRACKER_B]
        with pytest.raises(DuplicateTorrentError, match="with the same trackers"):
            await session.add_torrent(second, tmp_path)
    async with running_session(profile_dir=profile) as restarted:
        assert restarted.torrents[bytes.fromhex(info_hash)].metainfo.trackers == ((TRACKER_A,), (TRACKER_B,))


async def test_a_magnet_added_again_brings_trackers_web_seeds_and_peers(payload: Path, tmp_path: Path) -> None:
    meta = parse_metainfo(create_torrent(payload, trackers=[[TRACKER_A]], piece_length=PIECE))
    link = format_magnet(meta.info_hash, meta.name, [TRACKER_A, TRACKER_C], [WEB_SEED]) + "&x.pe=127.0.0.1:7"
    async with running_session(profile_dir=tmp_path / "profile") as session:
        info_hash = await session.add_torrent(meta, tmp_path, paused=True)
        with pytest.raises(DuplicateTorrentError, match="1 new tracker and 1 new web seed merged"):
            await session.add_torrent(link, tmp_path)
        torrent = session.torrents[meta.info_hash]
        assert sorted(tracker_urls(session, info_hash)) == [TRACKER_A, TRACKER_C]
        assert torrent.metainfo.url_list == (WEB_SEED,)
        assert ("127.0.0.1", 7) in torrent.candidates


async def test_a_magnet_waiting_for_metadata_takes_the_trackers_of_another_magnet(tmp_path: Path) -> None:
    info_hash = bytes(range(20))
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile) as session:
        await session.add_torrent(format_magnet(info_hash, "x", [TRACKER_A]), tmp_path, paused=True)
        with pytest.raises(DuplicateTorrentError, match="1 new tracker merged"):
            await session.add_torrent(format_magnet(info_hash, "x", [TRACKER_B]), tmp_path)
    async with running_session(profile_dir=profile) as restarted:
        assert restarted.torrents[info_hash].magnet.trackers == (TRACKER_A, TRACKER_B)  # type: ignore[union-attr]


async def test_a_private_torrent_keeps_its_own_trackers(payload: Path, tmp_path: Path) -> None:
    first = create_torrent(payload, trackers=[[TRACKER_A]], piece_length=PIECE, private=True)
    second = create_torrent(payload, trackers=[[TRACKER_B]], piece_length=PIECE, private=True)
    async with running_session() as session:
        info_hash = await session.add_torrent(first, tmp_path, paused=True)
        with pytest.raises(DuplicateTorrentError, match="private, so no trackers were merged"):
            await session.add_torrent(second, tmp_path)
        assert tracker_urls(session, info_hash) == [TRACKER_A]
