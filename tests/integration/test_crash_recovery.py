"""Kill a real download with SIGKILL at random moments: nothing claimed is ever missing.

Each kill hits a running process that has written verified pieces in that very run: the
child (crash_child.py) says so on stdout, and the test kills only after reading that line.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.engine.bitfield import Bitfield
from app.engine.metainfo import parse_metainfo
from app.engine.storage.disk import Storage
from app.engine.store import Store
from tests.integration.crash_child import WROTE
from tests.lt_peer import LtPeer, make_torrent, random_tree, throttle_loopback

ROOT = Path(__file__).resolve().parents[2]
SIZE = 24 * 2**20
RATE = 4 * 2**20  # bytes/s from the seed: a download lasts about 6 s, beyond the 5 runs' kills
KILLS = 5


async def verified_on_disk(meta, folder: Path) -> Bitfield:
    with ThreadPoolExecutor(2) as pool:
        storage = Storage(meta, folder, pool)
        await storage.open()
        try:
            return await storage.check()
        finally:
            await storage.close()


def claimed_by_store(profile: Path, meta) -> Bitfield:
    store, notice = Store.open(profile / "piecemeal.db")
    try:
        assert notice is None, notice
        resume = store.resume(meta.info_hash)
        if resume is None:
            return Bitfield(meta.num_pieces)
        return Bitfield.from_bytes(resume.verified, meta.num_pieces)
    finally:
        store.close()


async def wrote_in_this_run(proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    """Wait until the child says this run has written a verified piece."""
    assert proc.stdout is not None
    async with asyncio.timeout(timeout):  # however slowly the process starts on a busy machine
        while (line := await proc.stdout.readline()) and line.decode().strip() != WROTE:
            pass
    assert line, f"the downloader ended (status {await proc.wait()}) before writing a piece"


async def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "data", {"a.bin": SIZE // 2, "b/c.bin": SIZE // 2 + 12345})
    torrent_bytes = make_torrent(payload, piece_size=64 * 1024)
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(torrent_bytes)
    meta = parse_metainfo(torrent_bytes)
    seed = LtPeer("127.0.0.2")
    throttle_loopback(seed, RATE)
    seed.add(torrent_bytes, payload.parent)
    await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
    out, profile = tmp_path / "out", tmp_path / "profile"
    command = [sys.executable, "-m", "tests.integration.crash_child", "download", str(torrent), "-o", str(out), "--bind", "127.0.0.1",
               "--port", "0", "--peer", f"127.0.0.2:{seed.port}", "--profile", str(profile), "--save-every", "0.2", "--no-dht", "--no-lsd",
               "--no-port-mapping"]
    rng = random.Random()
    progress = []
    try:
        for _ in range(KILLS):
            proc = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await wrote_in_this_run(proc)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL, "the download ended before the kill"
            claimed = claimed_by_store(profile, meta)
            on_disk = await verified_on_disk(meta, out)
            assert set(claimed) <= set(on_disk), sorted(set(claimed) - set(on_disk))
            progress.append(claimed.count)
        final = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
                                                     stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(final.communicate(), 60)
        assert final.returncode == 0, err.decode()
    finally:
        seed.close()
    print("claimed pieces after each kill:", progress, "of", meta.num_pieces)
    assert progress[-1] > 0, progress  # resume data was really being written
    for name in ("a.bin", "b/c.bin"):
        assert (out / "data" / name).read_bytes() == (payload / name).read_bytes()
    assert (await verified_on_disk(meta, out)).is_complete()
