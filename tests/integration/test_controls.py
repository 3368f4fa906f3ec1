"""The torrent controls through the engine API, with real sessions on 127.0.0.x."""

from __future__ import annotations

import asyncio
import filecmp
import socket
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from app.engine import events
from app.engine.creator import create_torrent
from app.engine.errors import EngineError
from app.engine.metainfo import parse_metainfo
from app.engine.rate_limit import AltSchedule
from app.engine.session import Session, SessionConfig
from app.engine.snapshots import PieceState, StopReason, TorrentState
from app.engine.torrent_options import TorrentOptions
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, running_session, shown_state, torrent_snapshot, wait_for_state

KIB = 1024
PIECE = 32 * KIB
QUIET = {"enable_dht": False, "enable_lsd": False, "port_mapping": False}
# b.bin is exactly pieces 4..9: no wanted piece touches it when it is skipped.
SIZES = {"a.bin": 4 * PIECE, "b.bin": 6 * PIECE, "c.bin": 150_000}
SLOW = 64 * KIB  # a leecher this slow stays connected for the whole test


def state(session: Session, info_hash: str) -> TorrentState | StopReason:
    return shown_state(torrent_snapshot(session, info_hash))


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", SIZES)


@pytest.fixture
def torrent(payload: Path) -> bytes:
    return create_torrent(payload, piece_length=PIECE)


async def seeding(session: Session, torrent: bytes, payload: Path) -> str:
    info_hash = await session.add_torrent(torrent, payload.parent)
    await wait_for_state(session, info_hash, TorrentState.SEEDING)
    return info_hash


# -- speed limits ----------------------------------------------------------------------


async def test_the_alternative_limits_follow_their_schedule_and_the_config() -> None:
    every_day = AltSchedule(frozenset(range(7)), 0, 0)
    config = SessionConfig(down_limit=1000 * KIB, up_limit=500 * KIB, alt_down_limit=100 * KIB,
                           alt_up_limit=50 * KIB, alt_schedule=every_day, **QUIET)
    session = Session(config)
    try:
        session.controls.update_limits(datetime(2024, 1, 3, 12, 0))
        assert session.controls.alt_active
        assert (session.controls.limits.down.rate, session.controls.limits.up.rate) == (100 * KIB, 50 * KIB)
        await session.set_config(alt_schedule=None)  # what the preferences dialog does
        session.controls.update_limits(datetime(2024, 1, 3, 12, 0))
        assert not session.controls.alt_active
        assert (session.controls.limits.down.rate, session.controls.limits.up.rate) == (1000 * KIB, 500 * KIB)
    finally:
        await session.close()


# -- file priorities -------------------------------------------------------------------


async def test_skipped_file_is_not_downloaded_nor_created(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    async with running_session(**QUIET) as seed, running_session(**QUIET) as leecher:
        info_hash = await seeding(seed, torrent, payload)
        finished: list[events.Event] = []
        leecher.add_listener(lambda e: finished.append(e) if isinstance(e, events.TorrentFinished) else None)
        await leecher.add_torrent(torrent, out, paused=True)
        await leecher.set_file_priorities(info_hash, [2, 0, 1])
        await leecher.resume(info_hash)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        done = await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert len(finished) == 1
        assert done.verified_bytes == SIZES["a.bin"] + SIZES["c.bin"]
        assert (done.progress, done.wanted_size, done.total_size) == (1.0, done.verified_bytes, sum(SIZES.values()))
        assert [f.priority for f in leecher.details(info_hash).files] == [2, 0, 1]
        for name in ("a.bin", "c.bin"):
            assert filecmp.cmp(payload / name, out / "payload" / name, shallow=False)
        assert not (out / "payload" / "b.bin").exists()

        await leecher.set_file_priorities(info_hash, [1, 1, 1])  # wanted after all
        again = torrent_snapshot(leecher, info_hash)
        assert again.state == TorrentState.DOWNLOADING
        assert again.progress == pytest.approx(done.verified_bytes / sum(SIZES.values()))
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert filecmp.cmp(payload / "b.bin", out / "payload" / "b.bin", shallow=False)


async def test_skipping_what_is_left_finishes_the_torrent(torrent: bytes, tmp_path: Path) -> None:
    async with running_session(**QUIET) as leecher:  # no peer: nothing arrives
        info_hash = await leecher.add_torrent(torrent, tmp_path / "out")
        await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        await leecher.set_file_priorities(info_hash, [0, 0, 0])
        assert state(leecher, info_hash) == TorrentState.SEEDING
        with pytest.raises(ValueError):
            await leecher.set_file_priorities(info_hash, [1, 1])


# -- sequential ------------------------------------------------------------------------


async def test_sequential_download_fetches_pieces_in_order(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "movie", {"movie.bin": 64 * PIECE})
    torrent = create_torrent(payload, piece_length=PIECE)
    last = 63
    async with running_session(**QUIET) as seed, running_session(down_limit=256 * KIB, **QUIET) as leecher:
        info_hash = await seeding(seed, torrent, payload)
        await leecher.add_torrent(torrent, tmp_path / "out", paused=True)
        await leecher.set_sequential(info_hash, True)
        await leecher.resume(info_hash)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        await eventually(lambda: torrent_snapshot(leecher, info_hash).verified_bytes >= 16 * PIECE)
        pieces = leecher.details(info_hash).pieces
    verified = {i for i, s in enumerate(pieces) if s == PieceState.VERIFIED}
    assert {0, last} <= verified  # the first and last piece come first
    frontier = max(verified - {last})
    holes = set(range(frontier)) - verified
    assert len(holes) <= 3, sorted(verified)  # rarest first would scatter them over all 64


# -- the queue and seeding goals -------------------------------------------------------


async def test_stopping_mid_piece_then_starting_blames_nobody(tmp_path: Path) -> None:
    """The queue, the disk guard and moves stop and start torrents with pieces half received."""
    payload = random_tree(tmp_path / "seed" / "big", {"big.bin": 8 * 256 * KIB})
    torrent = create_torrent(payload, piece_length=256 * KIB)
    async with running_session(**QUIET) as seed, running_session(down_limit=512 * KIB, **QUIET) as leecher:
        info_hash = await seeding(seed, torrent, payload)
        await leecher.add_torrent(torrent, tmp_path / "out")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        for _ in range(3):
            await eventually(lambda: bool(leecher.details(info_hash).peers))
            await asyncio.sleep(0.3)
            await leecher.pause(info_hash)
            await leecher.resume(info_hash)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert not leecher.torrents[bytes.fromhex(info_hash)].banned
    assert filecmp.cmp(payload / "big.bin", tmp_path / "out" / "big" / "big.bin", shallow=False)


async def test_downloads_beyond_the_limit_wait_in_the_queue(tmp_path: Path) -> None:
    first = create_torrent(random_tree(tmp_path / "one", {"x.bin": 3 * PIECE}), piece_length=PIECE)
    second = create_torrent(random_tree(tmp_path / "two", {"y.bin": 3 * PIECE}), piece_length=PIECE)
    async with running_session(max_active_downloads=1, **QUIET) as session:
        one = await session.add_torrent(first, tmp_path / "out")
        two = await session.add_torrent(second, tmp_path / "out")
        await wait_for_state(session, one, TorrentState.DOWNLOADING)
        queued = torrent_snapshot(session, two)
        assert queued.reason == StopReason.QUEUED and queued.status_text == "Queued"

        await session.pause(one)
        await wait_for_state(session, two, TorrentState.DOWNLOADING, timeout=5)
        await session.resume(one)  # ahead in the queue: it takes its place back
        await wait_for_state(session, one, TorrentState.DOWNLOADING, timeout=5)
        await wait_for_state(session, two, StopReason.QUEUED, timeout=5)


async def test_seeds_beyond_the_limit_wait_in_the_queue(tmp_path: Path) -> None:
    one_data = random_tree(tmp_path / "one" / "d", {"x.bin": 2 * PIECE})
    two_data = random_tree(tmp_path / "two" / "d", {"y.bin": 2 * PIECE})
    async with running_session(max_active_seeds=1, **QUIET) as session:
        one = await session.add_torrent(create_torrent(one_data, piece_length=PIECE), one_data.parent)
        two = await session.add_torrent(create_torrent(two_data, piece_length=PIECE), two_data.parent)
        await wait_for_state(session, one, TorrentState.SEEDING)
        await wait_for_state(session, two, StopReason.QUEUED, timeout=5)


async def test_seeding_stops_at_the_ratio(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session(seed_ratio_limit=1.0, **QUIET) as seed, running_session(**QUIET) as leecher:
        info_hash = await seeding(seed, torrent, payload)
        await leecher.add_torrent(torrent, tmp_path / "out")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        stopped = await wait_for_state(seed, info_hash, StopReason.SEEDING_GOAL, timeout=5)
        assert (stopped.state, stopped.status_text) == (TorrentState.SEEDING, "Seeding goal reached")
        assert torrent_snapshot(seed, info_hash).uploaded >= sum(SIZES.values())


async def test_seeding_stops_after_a_time(torrent: bytes, payload: Path) -> None:
    async with running_session(seed_time_limit=1.5, **QUIET) as seed:
        info_hash = await seeding(seed, torrent, payload)
        await wait_for_state(seed, info_hash, StopReason.SEEDING_GOAL, timeout=20)
        assert seed.details(info_hash).seeding_time >= 1.5  # not before its time


async def seeded_for(session: Session, hashes: dict[str, str], seconds: float) -> None:
    """Each torrent has seeded this long (far beyond what the test's real seconds add): then the
    controls judge the goals, as their once-a-second tick does."""
    for info_hash in hashes.values():
        session.torrents[bytes.fromhex(info_hash)].seeding_seconds = seconds
    await session.controls.tick(asyncio.get_running_loop().time())


async def test_a_torrent_goal_overrides_the_session_goal(tmp_path: Path) -> None:
    trees = {name: random_tree(tmp_path / name / "d", {f"{name}.bin": PIECE}) for name in ("own", "never", "same")}
    async with running_session(seed_time_limit=1000.0, **QUIET) as seed:
        hashes = {}
        for name, tree in trees.items():
            hashes[name] = await seed.add_torrent(create_torrent(tree, piece_length=PIECE), tree.parent, paused=True)
        options = seed.details(hashes["own"]).options
        await seed.set_options(hashes["own"], replace(options, seed_time_limit=100.0))
        await seed.set_options(hashes["never"], replace(options, seed_time_limit=0.0))
        with pytest.raises(ValueError):
            await seed.set_options(hashes["same"], replace(options, ratio_limit=-1.0))
        for info_hash in hashes.values():
            await seed.resume(info_hash)
            await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await seeded_for(seed, hashes, 500.0)
        assert state(seed, hashes["own"]) == StopReason.SEEDING_GOAL  # its own 100 s
        assert state(seed, hashes["same"]) == TorrentState.SEEDING  # the session's 1000 s: not yet
        del hashes["own"]
        await seeded_for(seed, hashes, 5000.0)
        assert state(seed, hashes["same"]) == StopReason.SEEDING_GOAL
        assert state(seed, hashes["never"]) == TorrentState.SEEDING  # 0: never
        assert seed.details(hashes["never"]).options.seed_time_limit == 0.0


async def test_seeding_time_survives_a_restart(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile, **QUIET) as seed:
        info_hash = await seeding(seed, torrent, payload)
        await eventually(lambda: seed.details(info_hash).seeding_time >= 1.0)
    async with running_session(profile_dir=profile, **QUIET) as seed:
        assert seed.details(info_hash).seeding_time >= 1.0
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        assert torrent_snapshot(seed, info_hash).verified_bytes == sum(SIZES.values())  # trusted, not rehashed


async def test_why_a_torrent_is_paused_survives_a_restart(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile, seed_time_limit=0.5, **QUIET) as seed:
        info_hash = await seeding(seed, torrent, payload)
        await wait_for_state(seed, info_hash, StopReason.SEEDING_GOAL, timeout=5)
    async with running_session(profile_dir=profile, **QUIET) as seed:  # no goal now: still paused
        restored = torrent_snapshot(seed, info_hash)
        assert (restored.state, restored.reason) == (TorrentState.SEEDING, StopReason.SEEDING_GOAL)
        await seed.resume(info_hash)
        await seed.pause(info_hash)
    async with running_session(profile_dir=profile, **QUIET) as seed:
        assert torrent_snapshot(seed, info_hash).reason == StopReason.USER


# -- connections -----------------------------------------------------------------------


async def test_incoming_connections_respect_the_global_limit(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with (
        running_session(max_peers=1, **QUIET) as seed,
        running_session(down_limit=SLOW, **QUIET) as l1,
        running_session(down_limit=SLOW, **QUIET) as l2,
    ):
        info_hash = await seeding(seed, torrent, payload)
        for i, leecher in enumerate((l1, l2)):
            await leecher.add_torrent(torrent, tmp_path / f"out{i}")
            await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        l1.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        await eventually(lambda: len(seed.details(info_hash).peers) == 1)
        l2.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        for _ in range(20):
            await asyncio.sleep(0.05)
            assert len(seed.details(info_hash).peers) == 1
        assert not l2.details(info_hash).peers


async def test_connections_go_out_from_the_bound_address(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session("127.0.0.2", **QUIET) as seed, running_session("127.0.0.3", down_limit=SLOW, **QUIET) as leecher:
        info_hash = await seeding(seed, torrent, payload)
        await leecher.add_torrent(torrent, tmp_path / "out")
        leecher.add_peer(info_hash, "127.0.0.2", seed.listen_port)
        await eventually(lambda: bool(seed.details(info_hash).peers))
        assert seed.details(info_hash).peers[0].address.startswith("127.0.0.3:")
        with pytest.raises(ConnectionRefusedError):  # nothing listens on the other addresses
            await asyncio.open_connection("127.0.0.1", leecher.listen_port)


# -- remembered across restarts ---------------------------------------------------------


async def test_torrent_options_survive_a_restart(torrent: bytes, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    info_hash = parse_metainfo(torrent).info_hash_hex
    async with running_session(profile_dir=profile, **QUIET) as session:
        await session.add_torrent(torrent, tmp_path / "out", paused=True)
        await session.set_file_priorities(info_hash, [0, 2, 1])
        await session.set_sequential(info_hash, True)
        await session.set_torrent_limits(info_hash, down=100 * KIB, up=50 * KIB)
        with pytest.raises(ValueError):
            await session.set_torrent_limits(info_hash, down=-1, up=0)
        options = session.details(info_hash).options
        await session.set_options(info_hash, replace(options, ratio_limit=2.0, seed_time_limit=0.0))
    async with running_session(profile_dir=profile, **QUIET) as session:
        restored = session.torrents[bytes.fromhex(info_hash)]
        assert [f.priority for f in session.details(info_hash).files] == [0, 2, 1]
        assert restored.options.sequential and restored.picker.sequential
        assert restored.throttle.limits.down == 100 * KIB and restored.throttle.limits.up == 50 * KIB
        assert not restored.picker.wants(0)  # a.bin's first piece is skipped
        assert session.details(info_hash).options == TorrentOptions((0, 2, 1), True, 100 * KIB, 50 * KIB, 2.0, 0.0)


# -- settings changed while running -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_settings_change_while_running(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session(**QUIET) as session:
        info_hash = await seeding(session, torrent, payload)
        old_port = session.listen_port
        new_port = free_port()
        await session.set_config(up_limit=300 * KIB, upload_slots=2, listen_port=new_port, enable_dht=True,
                                 dht_bootstrap=())
        assert session.controls.limits.up.rate == 300 * KIB
        assert session.torrents[bytes.fromhex(info_hash)].choker.slots == 2
        assert session.dht is not None and session.dht_port
        assert session.listen_port == new_port
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", old_port)  # the old port is closed
        async with running_session(**QUIET) as leecher:  # the new one serves peers
            await leecher.add_torrent(torrent, tmp_path / "out")
            leecher.add_peer(info_hash, "127.0.0.1", session.listen_port)
            await wait_for_state(leecher, info_hash, TorrentState.SEEDING)

        blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        taken = blocker.sockets[0].getsockname()[1]
        try:
            before = session.config
            with pytest.raises(EngineError, match=f"port {taken}"):
                await session.set_config(listen_port=taken)
            assert session.config == before  # a port it cannot have changes nothing
        finally:
            blocker.close()
        await session.set_config(enable_dht=False)
        assert session.dht is None and session.snapshot().dht_nodes == 0


# -- choosing a magnet's files once its metadata arrives ---------------------------------------


async def test_a_magnet_waits_for_the_file_choice(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    profile, out = tmp_path / "profile", tmp_path / "out"
    async with running_session(**QUIET) as seed:
        info_hash = await seeding(seed, torrent, payload)
        received: list[events.MetadataReceived] = []
        async with running_session(profile_dir=profile, **QUIET) as leecher:
            leecher.add_listener(lambda e: received.append(e) if isinstance(e, events.MetadataReceived) else None)
            await leecher.add_torrent(seed.magnet_uri(info_hash), out, choose_files=True)
            leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
            await eventually(lambda: bool(received))
            assert received == [events.MetadataReceived(info_hash, "payload", choose_files=True)]
            waiting = await wait_for_state(leecher, info_hash, StopReason.CHOOSE_FILES, timeout=5)
            assert waiting.verified_bytes == 0 and waiting.downloaded == 0
            assert waiting.status_text == "Waiting for the file choice"
            assert not out.exists()  # nothing is created before the user has chosen
        async with running_session(profile_dir=profile, **QUIET) as leecher:  # a restart keeps it waiting
            assert torrent_snapshot(leecher, info_hash).reason == StopReason.CHOOSE_FILES
            assert [f.path for f in leecher.details(info_hash).files] == [f"payload/{n}" for n in SIZES]
            await leecher.set_file_priorities(info_hash, [1, 0, 1])
            await leecher.resume(info_hash)
            assert not torrent_snapshot(leecher, info_hash).paused
            leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
            done = await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
            assert done.verified_bytes == SIZES["a.bin"] + SIZES["c.bin"]
    assert not (out / "payload" / "b.bin").exists()
    for name in ("a.bin", "c.bin"):
        assert filecmp.cmp(payload / name, out / "payload" / name, shallow=False)
