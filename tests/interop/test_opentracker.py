"""A real opentracker over UDP: a Piecemeal seed bound to 127.0.0.2 announces to it, and a
libtorrent leecher that knows only the tracker downloads the whole torrent from that seed.

opentracker takes a UDP announcer's address from the datagram's source (BEP 15). Had the seed
announced from another address, the tracker would hand out 127.0.0.1, where nothing listens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.processes import accepts_tcp, free_port, log_tail, need_program, running, wait_until
from tests.swarm_helpers import assert_same_files, loopback_config, torrent_snapshot, wait_for_state

pytestmark = pytest.mark.interop

# Its own address: libtorrent caches UDP connection ids by the tracker's IP alone (not the
# port), and an id from another test's tracker on 127.0.0.1 would be refused here.
TRACKER_HOST = "127.0.0.9"
SEED_HOST = "127.0.0.2"
LEECH_HOST = "127.0.0.3"


@dataclass(frozen=True, slots=True)
class OpenTracker:
    folder: Path
    port: int  # the same for TCP and UDP

    @property
    def udp_url(self) -> str:
        return f"udp://{TRACKER_HOST}:{self.port}/announce"

    def allow(self, info_hash: str) -> None:
        """Debian's opentracker serves listed torrents only: list it before the tracker starts."""
        (self.folder / "whitelist.txt").write_text(info_hash + "\n")


@pytest.fixture
def opentracker(tmp_path: Path) -> OpenTracker:
    folder = tmp_path / "opentracker"
    folder.mkdir()
    (folder / "opentracker.conf").write_text("access.whitelist whitelist.txt\n")
    return OpenTracker(folder, free_port(TRACKER_HOST))


def _command(tracker: OpenTracker) -> list[str]:
    port, conf = str(tracker.port), str(tracker.folder / "opentracker.conf")
    # It runs in the foreground. -p/-P: its TCP/UDP ports; -d: as root it chroots there,
    # so the whitelist's path is relative to that folder.
    return [need_program("opentracker"), "-i", TRACKER_HOST, "-p", port, "-P", port, "-f", conf, "-d", str(tracker.folder)]


async def test_libtorrent_finds_a_bound_seed_through_opentracker_udp(
    tmp_path: Path, opentracker: OpenTracker
) -> None:
    random_tree(tmp_path / "seed", {"album/one.bin": 3_000_000, "album/two.bin": 1_234_567})
    torrent = make_torrent(tmp_path / "seed" / "album", piece_size=65536, trackers=[opentracker.udp_url])
    leech = LtPeer(LEECH_HOST)
    session = Session(loopback_config(SEED_HOST))
    await session.start()
    try:
        info_hash = await session.add_torrent(torrent, tmp_path / "seed", paused=True)
        opentracker.allow(info_hash)
        with running(_command(opentracker), cwd=opentracker.folder, name="opentracker"):
            await asyncio.to_thread(
                wait_until, lambda: accepts_tcp(TRACKER_HOST, opentracker.port), 10,
                lambda: "opentracker did not start:\n" + log_tail(opentracker.folder, "opentracker"),
            )
            await session.resume(info_hash)
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
            await _announced(session, info_hash)
            handle = leech.add(torrent, tmp_path / "leech")
            await asyncio.to_thread(leech.wait_seeding, handle, 60)
    finally:
        leech.close()
        await session.close()
    assert_same_files(tmp_path / "seed" / "album", tmp_path / "leech" / "album", ["one.bin", "two.bin"])


async def _announced(session: Session, info_hash: str) -> None:
    """Waits until the tracker has answered the seed's announce."""
    for _ in range(400):
        tracker = torrent_snapshot(session, info_hash).trackers[0]
        if tracker.status == "working":
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"the seed's announce to opentracker did not succeed: {tracker.status} {tracker.message}")
