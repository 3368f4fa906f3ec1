"""piecemeal-cli's control options: speed limits, sequential order, peer limit."""

from __future__ import annotations

import asyncio
import filecmp
import sys
from pathlib import Path

import pytest

from app.cli import _parser, _printer, _session_config, _until_goal, _watch
from app.engine.creator import create_torrent
from app.engine.disk_guard import DiskGuard
from app.engine.snapshots import StopReason
from app.engine.store import Store
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, torrent_snapshot

ROOT = Path(__file__).resolve().parents[1]
KIB = 1024
MIB = 1024 * KIB


def test_limits_parse_like_sizes() -> None:
    args = _parser().parse_args(["download", "x.torrent", "-o", "out", "--down-limit", "500K",
                                 "--up-limit", "1M", "--max-peers", "7", "--sequential"])
    assert (args.down_limit, args.up_limit, args.max_peers, args.sequential) == (500 * KIB, 1024 * KIB, 7, True)
    plain = _parser().parse_args(["seed", "x.torrent", "--data", "d"])
    assert (plain.down_limit, plain.up_limit, plain.max_peers) == (0, 0, None)


def test_the_limits_reach_the_session(tmp_path: Path) -> None:
    args = _parser().parse_args(["download", "x.torrent", "-o", "out", "--down-limit", "256K",
                                 "--up-limit", "1M", "--max-peers", "4"])
    config = _session_config(args, tmp_path)
    assert (config.down_limit, config.up_limit, config.max_peers_per_torrent) == (256 * KIB, MIB, 4)


def test_a_limit_that_is_not_a_size_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(["download", "x.torrent", "-o", "out", "--down-limit", "fast"])
    assert exit_.value.code == 2
    assert "not a size" in capsys.readouterr().err


async def test_download_with_a_limit_and_in_order(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "clip", {"clip.bin": 768 * KIB})
    torrent_file = tmp_path / "clip.torrent"
    torrent_file.write_bytes(create_torrent(payload, piece_length=32 * KIB))
    out, profile = tmp_path / "out", tmp_path / "profile"
    async with running_session(enable_dht=False, enable_lsd=False) as seed:
        await seed.add_torrent(torrent_file.read_bytes(), payload.parent)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "download", str(torrent_file), "-o", str(out),
            "--bind", "127.0.0.1", "--port", "0", "--peer", f"127.0.0.1:{seed.listen_port}",
            "--no-dht", "--no-lsd", "--no-port-mapping", "--profile", str(profile),
            "--down-limit", "256K", "--sequential", "--max-peers", "4",
            cwd=ROOT, stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert filecmp.cmp(payload / "clip.bin", out / "clip" / "clip.bin", shallow=False)
    store, _ = Store.open(profile / "piecemeal.db")
    try:
        assert store.torrents()[0].sequential
    finally:
        store.close()


def test_file_selections_parse_like_aria2c(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["download", "x.torrent", "-o", "out", "--select-file", "1,3-5",
                                 "--seed", "--seed-ratio", "1.5", "--seed-time", "90"])
    assert (args.select_file, args.seed_ratio, args.seed_time) == (frozenset({1, 3, 4, 5}), 1.5, 90.0)
    for bad in ("0", "a", "2-x", ""):
        with pytest.raises(SystemExit):
            _parser().parse_args(["download", "x.torrent", "-o", "out", "--select-file", bad])
        assert "file numbers" in capsys.readouterr().err


async def cli(*args: str, timeout: float = 30) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", *args, "--bind", "127.0.0.1", "--port", "0", "--no-dht", "--no-lsd", "--no-port-mapping",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


@pytest.mark.parametrize("as_magnet", [False, True])
async def test_download_only_the_selected_files(tmp_path: Path, as_magnet: bool) -> None:
    piece = 32 * KIB
    payload = random_tree(tmp_path / "seed" / "album", {"1.bin": 2 * piece, "2.bin": 3 * piece, "3.bin": 1000})
    torrent = create_torrent(payload, piece_length=piece)
    torrent_file = tmp_path / "album.torrent"
    torrent_file.write_bytes(torrent)
    out = tmp_path / "out"
    async with running_session(enable_dht=False, enable_lsd=False) as seed:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        source = seed.magnet_uri(info_hash) if as_magnet else str(torrent_file)
        code, output = await cli("download", source, "-o", str(out), "--select-file", "1,3",
                                 "--peer", f"127.0.0.1:{seed.listen_port}")
    assert code == 0, output
    for name in ("1.bin", "3.bin"):
        assert filecmp.cmp(payload / name, out / "album" / name, shallow=False)
    assert not (out / "album" / "2.bin").exists()


async def test_a_file_number_beyond_the_torrent_is_refused(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "album", {"1.bin": 1000, "2.bin": 1000})
    torrent_file = tmp_path / "album.torrent"
    torrent_file.write_bytes(create_torrent(payload, piece_length=32 * KIB))
    code, output = await cli("download", str(torrent_file), "-o", str(tmp_path / "out"), "--select-file", "3")
    assert code == 2
    assert "there is no file 3: the torrent has 2" in output
    assert not (tmp_path / "out").exists()


async def test_seeding_exits_at_its_goal(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "clip", {"clip.bin": 64 * KIB})
    torrent_file = tmp_path / "clip.torrent"
    torrent_file.write_bytes(create_torrent(payload, piece_length=32 * KIB))
    code, output = await cli("seed", str(torrent_file), "--data", str(payload.parent), "--seed-time", "0.03")
    assert code == 0, output  # 1.8 s of seeding, then it stops by itself
    assert output.rstrip().splitlines()[-1].split()[1:4] == ["Seeding", "goal", "reached"], output  # says why


async def test_download_and_seed_goes_on_through_a_pause_for_disk_space(tmp_path: Path) -> None:
    """--seed --seed-time ends at the goal, not at a pause by the disk-space guard half-way."""
    payload = random_tree(tmp_path / "seed" / "clip", {"clip.bin": 256 * KIB})
    torrent_file = tmp_path / "clip.torrent"
    torrent_file.write_bytes(create_torrent(payload, piece_length=32 * KIB))
    out = tmp_path / "out"
    args = _parser().parse_args(["download", str(torrent_file), "-o", str(out), "--seed", "--seed-time", "0.01"])
    free = [0]
    quiet = {"enable_dht": False, "enable_lsd": False}
    async with running_session(**quiet) as seed, \
            running_session(disk_reserve=MIB, seed_time_limit=0.6, **quiet) as session:
        session.controls.disk = DiskGuard(lambda folder: free[0])
        await seed.add_torrent(torrent_file.read_bytes(), payload.parent)
        info_hash = await session.add_torrent(torrent_file.read_bytes(), out)
        async with asyncio.timeout(20):
            while torrent_snapshot(session, info_hash).reason != StopReason.NO_SPACE:
                await asyncio.sleep(0.02)
        assert torrent_snapshot(session, info_hash).status_text == "Waiting for disk space"
        judged = asyncio.Event()
        goal = _until_goal(args)

        def done(*seen: object) -> bool:
            judged.set()
            return goal(*seen)  # type: ignore[arg-type]

        watching = asyncio.ensure_future(_watch(session, info_hash, asyncio.Event(), done, _printer(quiet=True)))
        try:
            await asyncio.wait_for(judged.wait(), 10)
            await asyncio.sleep(0)
            assert not watching.done(), "exited at a pause for disk space, before any seeding"
            free[0] = 1024 * MIB
            session.add_peer(info_hash, "127.0.0.1", seed.listen_port)
            assert await asyncio.wait_for(watching, 30) == 0
        finally:
            watching.cancel()
        assert session.torrents[bytes.fromhex(info_hash)].seeding_seconds >= 0.6
    assert filecmp.cmp(payload / "clip.bin", out / "clip" / "clip.bin", shallow=False)
