"""Playing a file while it downloads, from a rate-limited libtorrent seed on loopback.

The leecher downloads in order (sequential), so the middle of the file comes before its
last fifth on its own: a seek to 80 % served while the middle piece is still missing
shows the time-critical pieces at work. No clocks: the order of events is what is checked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from app.engine.errors import EngineError
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import LtPeer, make_torrent, random_tree, throttle_loopback
from tests.swarm_helpers import running_session, torrent_snapshot, wait_for_state

pytestmark = pytest.mark.interop

KIB = 1024
SIZE = 16 * 1024 * KIB
PIECE = 64 * KIB
RATE = 500_000  # bytes/s: the whole file takes half a minute, a range a fraction of a second
READ = 256 * KIB
WAIT = 60.0


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    random_tree(tmp_path / "seed", {"movie.mkv": SIZE})
    return tmp_path / "seed" / "movie.mkv"


@pytest.fixture
async def streaming(payload: Path, tmp_path: Path):
    """A leecher downloading from the throttled seed, its info-hash and the file's URL."""
    torrent = make_torrent(payload, piece_size=PIECE)
    seed = LtPeer("127.0.0.2")
    throttle_loopback(seed, RATE)
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.add(torrent, payload.parent))
        async with running_session() as leecher:
            info_hash = await leecher.add_torrent(torrent, tmp_path / "down")
            await leecher.set_sequential(info_hash, True)
            await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
            leecher.add_peer(info_hash, "127.0.0.2", seed.port)
            yield leecher, info_hash, await leecher.stream_url(info_hash, 0)
    finally:
        seed.close()




def verified(session: Session, info_hash: str, piece: int) -> bool:
    return piece in session.torrents[bytes.fromhex(info_hash)].picker.have


async def test_first_bytes_arrive_while_downloading(streaming, payload: Path) -> None:
    leecher, info_hash, url = streaming
    expected = payload.read_bytes()[:READ]
    async with asyncio.timeout(WAIT), aiohttp.ClientSession() as client:
        async with client.get(url, headers={"Range": f"bytes=0-{READ - 1}"}) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes 0-{READ - 1}/{SIZE}"
            first = await response.content.readexactly(PIECE)
            assert torrent_snapshot(leecher, info_hash).progress < 1.0, "the download finished first"
            rest = await response.content.read()
    assert first + rest == expected


async def test_seek_to_80_percent_before_the_middle_downloads(streaming, payload: Path) -> None:
    leecher, info_hash, url = streaming
    start = SIZE * 8 // 10 + 12_345  # not on a piece boundary
    expected = payload.read_bytes()[start : start + READ]
    async with asyncio.timeout(WAIT), aiohttp.ClientSession() as client:
        async with client.get(url, headers={"Range": f"bytes={start}-{start + READ - 1}"}) as response:
            assert response.status == 206
            body = await response.read()
            middle_missing = not verified(leecher, info_hash, SIZE // 2 // PIECE)
    assert body == expected
    assert middle_missing, "the middle of the file was downloaded before the seek was served"


async def test_whole_file_without_range_and_bad_requests(streaming) -> None:
    leecher, info_hash, url = streaming
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    wrong = url.replace(parts.path.split("/")[2], "not-the-token")
    async with asyncio.timeout(WAIT), aiohttp.ClientSession() as client:
        async with client.get(wrong) as response:
            assert response.status == 404
        async with client.get(url, headers={"Range": f"bytes={SIZE}-"}) as response:
            assert response.status == 416
            assert response.headers["Content-Range"] == f"bytes */{SIZE}"
        async with client.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == str(SIZE)


async def test_server_listens_on_loopback_only(streaming) -> None:
    leecher, info_hash, url = streaming
    port = urlsplit(url).port
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.2", port)


async def test_a_player_hanging_up_stops_the_hurry(streaming) -> None:
    leecher, info_hash, url = streaming
    picker = leecher.torrents[bytes.fromhex(info_hash)].picker
    async with asyncio.timeout(WAIT):
        async with aiohttp.ClientSession() as client:
            async with client.get(url, headers={"Range": f"bytes={SIZE * 6 // 10}-"}) as response:
                assert response.status == 206
                while not picker.critical:
                    await asyncio.sleep(0.02)
                assert picker.critical[0] == SIZE * 6 // 10 // PIECE
        while picker.critical:  # the handler is cancelled and lets go of its pieces
            await asyncio.sleep(0.02)


async def test_a_skipped_or_missing_file_is_not_played(streaming) -> None:
    leecher, info_hash, url = streaming
    with pytest.raises(EngineError, match="no file number 1"):
        await leecher.stream_url(info_hash, 1)
    await leecher.set_file_priorities(info_hash, [0])
    with pytest.raises(EngineError, match="movie.mkv is skipped"):
        await leecher.stream_url(info_hash, 0)
