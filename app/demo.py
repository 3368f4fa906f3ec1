"""A demo swarm on loopback: watch a download without the internet.

A random multi-file payload in a temporary folder, the embedded tracker on 127.0.0.1, and
several seeding sessions on 127.0.0.2 ... 127.0.0.5 with different upload speeds and
different parts of the data. Everything stays on 127.0.0.0/8: no DHT, no LSD.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.creator import create_torrent
from app.engine.session import Session, SessionConfig
from app.engine.tracker.server import TrackerServer

MIB = 1024 * 1024
PAYLOAD = {  # name -> size: awkward on purpose (an empty file, a tiny one, odd sizes)
    "Demo Swarm/video/big-buck-demo.mkv": 40 * MIB + 12345,
    "Demo Swarm/music/01 - overture.flac": 9 * MIB + 777,
    "Demo Swarm/music/02 - allegro.flac": 11 * MIB,
    "Demo Swarm/music/03 - finale.flac": 7 * MIB + 3,
    "Demo Swarm/photos/sunrise.jpg": 2 * MIB + 4321,
    "Demo Swarm/photos/empty.txt": 0,
    "Demo Swarm/README.txt": 1234,
}
# (address, upload bytes/s, files the seed lacks): different speeds, different parts.
SEEDS = (
    ("127.0.0.2", 900 * 1024, ()),
    ("127.0.0.3", 500 * 1024, ("Demo Swarm/video/big-buck-demo.mkv",)),
    ("127.0.0.4", 300 * 1024, ("Demo Swarm/music/02 - allegro.flac", "Demo Swarm/photos/sunrise.jpg")),
    ("127.0.0.5", 200 * 1024, ("Demo Swarm/music/01 - overture.flac",)),
)
PIECE_LENGTH = 256 * 1024


def loopback_session_config(host: str, **overrides: object) -> SessionConfig:
    """A session that talks to loopback addresses only."""
    settings: dict[str, object] = {
        "listen_host": host, "listen_port": 0, "enable_dht": False, "enable_lsd": False, "disk_reserve": 0,
        "port_mapping": False,
    }
    settings.update(overrides)
    return SessionConfig(**settings)  # type: ignore[arg-type]


@dataclass
class DemoSwarm:
    folder: Path
    torrent: bytes
    tracker: TrackerServer
    seeds: list[Session] = field(default_factory=list)

    @property
    def torrent_path(self) -> Path:
        return self.folder / "Demo Swarm.torrent"

    async def close(self) -> None:
        await asyncio.gather(*(seed.close() for seed in self.seeds), return_exceptions=True)
        await self.tracker.close()


async def start_demo_swarm(folder: Path) -> DemoSwarm:
    """Make the payload under `folder`, start the tracker and the seeds; returns the swarm."""
    source = folder / "source"
    await asyncio.to_thread(_write_payload, source)
    tracker = TrackerServer(interval=30)
    await tracker.start("127.0.0.1")
    torrent = await asyncio.to_thread(
        create_torrent, source / "Demo Swarm", trackers=[[tracker.http_url]], piece_length=PIECE_LENGTH,
        private=True, comment="Piecemeal demo swarm: everything runs on 127.0.0.x",
    )
    swarm = DemoSwarm(folder, torrent, tracker)
    swarm.torrent_path.write_bytes(torrent)
    try:
        for host, rate, missing in SEEDS:
            swarm.seeds.append(await _start_seed(folder, source, torrent, host, rate, missing))
    except BaseException:
        await swarm.close()
        raise
    return swarm


async def _start_seed(folder: Path, source: Path, torrent: bytes, host: str, rate: int, missing: tuple[str, ...]) -> Session:
    data = folder / f"seed-{host}"
    await asyncio.to_thread(_copy_without, source, data, missing)
    session = Session(loopback_session_config(host, up_limit=rate, download_dir=data))
    await session.start()
    await session.add_torrent(torrent, data)
    return session


def _write_payload(root: Path) -> None:
    for name, size in PAYLOAD.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            for offset in range(0, size, 4 * MIB):
                f.write(os.urandom(min(4 * MIB, size - offset)))


def _copy_without(source: Path, target: Path, missing: tuple[str, ...]) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)
    for name in missing:
        (target / name).unlink()
