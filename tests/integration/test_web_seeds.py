"""BEP 19 web seeds against loopback HTTP servers (aiohttp.web), alone and beside a libtorrent seed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from app.engine import torrent as torrent_module
from app.engine import webseed
from app.engine.creator import create_torrent
from app.engine.errors import EngineError
from app.engine.magnet import format_magnet, parse_magnet
from app.engine.bencode import decode_torrent, encode
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.piece_picker import BLOCK_SIZE, Block
from app.engine.rate_limit import RateLimits
from app.engine.session import Session
from app.engine.storage.layout import Layout
from app.engine.snapshots import PeerSnapshot, TorrentState
from tests.http_server import Handler, Serve, handler_servers
from tests.lt_peer import LtPeer, random_tree, throttle_loopback
from tests.swarm_helpers import assert_same_files, running_session, torrent_snapshot, wait_for_state

SIZES = {  # a piece spans several files; empty files; a short last piece
    "a-tiny.txt": 1,
    "b-empty": 0,
    "c-small.bin": 5_000,
    "d/e big.bin": 300_001,  # a space: percent-encoded in the URL
    "f-one-piece.bin": 32 * 1024,
}
NAMES = [f"payload/{name}" for name in SIZES]
PIECE = 32 * 1024
ROOT = Path(__file__).resolve().parents[2]

@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts loopback HTTP servers answering every path with a handler; returns their base URL."""
    async with handler_servers() as start:
        yield start


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", SIZES)


def files_of(root: Path, delay: float = 0.0) -> Handler:
    """A real file server: aiohttp's FileResponse answers Range requests with 206; `delay`
    before each answer makes a slow server."""

    async def handler(request: web.Request) -> web.StreamResponse:
        path = root / request.match_info["path"]
        if not path.is_file():
            raise web.HTTPNotFound()
        await asyncio.sleep(delay)
        return web.FileResponse(path)

    return handler


@pytest.fixture
def lt_seed() -> Iterator[LtPeer]:
    peer = LtPeer("127.0.0.2")
    yield peer
    peer.close()


def seed_row(session: Session, info_hash: str) -> PeerSnapshot | None:
    details = session.details(info_hash)
    assert details is not None
    return next((p for p in details.peers if p.is_web_seed), None)


async def wait_for_note(session: Session, info_hash: str, words: str, timeout: float = 30) -> PeerSnapshot:
    try:
        async with asyncio.timeout(timeout):
            while True:
                row = seed_row(session, info_hash)
                if row is not None and words in row.note:
                    return row
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"the web seed's row never said {words!r}: {seed_row(session, info_hash)}") from None


@pytest.mark.parametrize("single", [False, True], ids=["multi-file", "single-file"])
async def test_web_seed_as_the_only_source(single: bool, serve: Serve, payload: Path, tmp_path: Path) -> None:
    content = payload / "d" / "e big.bin" if single else payload
    base = await serve(files_of(content.parent))
    torrent = create_torrent(content, web_seeds=[base], piece_length=PIECE)  # ends in '/': + name
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        row = seed_row(session, info_hash)
    expected = ["e big.bin"] if single else NAMES
    assert_same_files(content.parent, tmp_path / "got", expected)
    assert row is not None and (row.client, row.address, row.note) == (webseed.CLIENT_NAME, base, "")
    assert row.downloaded == (content.stat().st_size if single else sum(SIZES.values()))


async def test_web_seed_added_by_hand_beside_a_libtorrent_seed(
    serve: Serve, tmp_path: Path, lt_seed: LtPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webseed, "REQUEST_BYTES", PIECE)
    payload = random_tree(tmp_path / "big" / "payload", {"big.bin": 4 * 1024 * 1024, "small.txt": 100})
    torrent = create_torrent(payload, piece_length=PIECE)
    lt_seed.add(torrent, payload.parent, seed_mode=True)
    base = await serve(files_of(payload.parent, delay=0.02))  # slow: the peer must do its share
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        await session.add_web_seed(info_hash, base)
        async with asyncio.timeout(30):
            while (row := seed_row(session, info_hash)) is None or not row.downloaded:
                await asyncio.sleep(0.05)
        session.add_peer(info_hash, lt_seed.host, lt_seed.port)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        row = seed_row(session, info_hash)
        downloaded = torrent_snapshot(session, info_hash).downloaded
    assert_same_files(payload.parent, tmp_path / "got", ["payload/big.bin", "payload/small.txt"])
    assert row is not None and row.address == base and row.note == ""
    assert 0 < row.downloaded < downloaded  # both sources gave pieces


def peer_row(session: Session, info_hash: str) -> PeerSnapshot | None:
    details = session.details(info_hash)
    assert details is not None
    return next((p for p in details.peers if not p.is_web_seed), None)


async def test_a_fast_web_seed_takes_over_pieces_a_slow_peer_started(
    serve: Serve, tmp_path: Path, lt_seed: LtPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peer, throttled to 32 KiB/s, has 2 MiB of requests in flight when the web seed comes:
    the seed fetches the pieces nobody started, then those the peer would take a minute over."""
    judged_slow: set[int] = set()

    def recorded(queues: list[webseed.PeerQueue], now: float, *, endgame: bool) -> list[int]:
        slow = webseed.slow_pieces(queues, now, endgame=endgame)
        judged_slow.update(slow)
        return slow

    monkeypatch.setattr(torrent_module, "slow_pieces", recorded)
    payload = random_tree(tmp_path / "big" / "payload", {"big.bin": 4 * 1024 * 1024})
    torrent = create_torrent(payload, piece_length=64 * 1024)
    throttle_loopback(lt_seed, 32 * 1024)
    lt_seed.add(torrent, payload.parent, seed_mode=True)
    base = await serve(files_of(payload.parent))
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        session.add_peer(info_hash, lt_seed.host, lt_seed.port)
        async with asyncio.timeout(30):  # the peer has started pieces
            while (row := peer_row(session, info_hash)) is None or not row.downloaded:
                await asyncio.sleep(0.05)
        await session.add_web_seed(info_hash, base)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)  # both seeds: the peer is gone
        seed = seed_row(session, info_hash)
    assert_same_files(payload.parent, tmp_path / "got", ["payload/big.bin"])
    assert judged_slow, "no piece was named for a take-over: the seed only took the endgame's duplicates"
    assert seed is not None and seed.taken_over > 0, seed  # blocks asked of the peer came from the seed first


class PeersWinAfterOneBlock:
    """A web seed's owner (the torrent's part) that hands out one piece and, once the piece's
    first block is in, cancels the rest, as the torrent does when peers deliver them first."""

    def __init__(self, blocks: list[Block]) -> None:
        self.throttle = RateLimits().throttle()
        self.blocks = blocks
        self.handed = False
        self.received: list[Block] = []
        self.returned: list[Block] = []
        self.failures: list[str] = []

    def web_seed_blocks(self, seed: webseed.WebSeed, count: int) -> list[Block]:
        if self.handed:
            return []
        self.handed = True
        return self.blocks

    def block_received(self, peer: webseed.WebSeed, block: Block, data: memoryview) -> None:
        self.received.append(block)
        for other in self.blocks[1:]:
            peer.cancel(other)

    def blocks_returned(self, peer: webseed.WebSeed, blocks: list[Block]) -> None:
        self.returned += blocks

    def web_seed_failed(self, seed: webseed.WebSeed, error: webseed.WebSeedError) -> None:
        self.failures.append(str(error))


async def test_a_web_seed_beaten_by_peers_stops_reading_its_range(serve: Serve, tmp_path: Path) -> None:
    """The server sends a piece's first block, then nothing more: only a seed that gives up the
    rest of its range once peers delivered it ends its run (else it waits READ_TIMEOUT)."""
    data = random_tree(tmp_path / "files", {"one.bin": 4 * BLOCK_SIZE}) / "one.bin"
    body = data.read_bytes()

    async def first_block_only(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}", "Content-Length": str(len(body))}
        response = web.StreamResponse(status=206, headers=headers)
        await response.prepare(request)
        await response.write(body[:BLOCK_SIZE])
        await asyncio.Event().wait()  # never more: the server's shutdown cancels it
        return response

    meta = parse_metainfo(create_torrent(data, piece_length=4 * BLOCK_SIZE))
    owner = PeersWinAfterOneBlock([Block(0, i * BLOCK_SIZE, BLOCK_SIZE) for i in range(4)])
    async with aiohttp.ClientSession() as http:
        url = await serve(first_block_only)
        seed = webseed.WebSeed(url, meta, Layout(meta.piece_length, [len(body)]), owner, lambda: http)
        seed.start()
        try:
            async with asyncio.timeout(10):
                while seed.busy:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError("the seed went on waiting for bytes peers had delivered") from None
    assert owner.received == owner.blocks[:1] and owner.returned == [] and owner.failures == []
    assert seed.lost == 3 and seed.down.total < len(body)


async def test_redirect_to_another_server_is_followed(serve: Serve, payload: Path, tmp_path: Path) -> None:
    mirror = await serve(files_of(payload.parent))

    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(mirror + request.match_info["path"])

    torrent = create_torrent(payload, web_seeds=[await serve(redirect)], piece_length=PIECE)
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
    assert_same_files(payload.parent, tmp_path / "got", NAMES)


def range_of(request: web.Request, size: int) -> tuple[int, int]:
    first, _, last = request.headers["Range"].removeprefix("bytes=").partition("-")
    return int(first), min(int(last), size - 1)


def hostile(root: Path, behaviour: str) -> Handler:
    """A seed that misbehaves in one way (see BEHAVIOURS)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        path = root / request.match_info["path"]
        data = path.read_bytes()
        first, last = range_of(request, len(data))
        return await BEHAVIOURS[behaviour](request, data, first, last)

    return handler


async def wrong_bytes(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    return web.Response(status=206, body=bytes(b ^ 0xFF for b in body), headers={"Content-Range": span})


async def stalled(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    response = web.StreamResponse(status=206, headers={"Content-Range": span, "Content-Length": str(len(body))})
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    await asyncio.Event().wait()  # never more: the server's shutdown cancels it
    return response


async def longer_body(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    response = web.StreamResponse(status=206, headers={"Content-Range": span})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(body + b"and more")
    await response.write_eof()
    return response


async def longer_length(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    return web.Response(status=206, body=body + b"x" * 10, headers={"Content-Range": span})


async def not_found(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    raise web.HTTPNotFound()


async def server_error(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    raise web.HTTPInternalServerError()


async def busy(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    raise web.HTTPServiceUnavailable(headers={"Retry-After": "600"})


async def redirect_loop(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    raise web.HTTPFound(str(request.url))


async def whole_file(request: web.Request, data: bytes, first: int, last: int) -> web.StreamResponse:
    body, span = data[first : last + 1], f"bytes {first}-{last}/{len(data)}"
    return web.Response(status=200, body=data)  # the whole file, whatever the range


BAD_BYTES = "dropped: sent data that failed the hash check"
BEHAVIOURS: dict[str, Callable[[web.Request, bytes, int, int], Awaitable[web.StreamResponse]]] = {
    BAD_BYTES: wrong_bytes,
    "stalled: no data for 1 s": stalled,
    "sent more bytes than asked for": longer_body,
    "bytes for a range of": longer_length,
    "HTTP 404 Not Found": not_found,
    "HTTP 500 Internal Server Error": server_error,
    "busy (HTTP 503)": busy,
    "too many redirects": redirect_loop,
    "does not support range requests": whole_file,
}


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
async def test_bad_web_seed_is_backed_off_and_the_peer_finishes(
    behaviour: str, serve: Serve, payload: Path, tmp_path: Path, lt_seed: LtPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webseed, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(webseed, "REQUEST_BYTES", PIECE)  # a piece at a time: ranges, not whole files
    base = await serve(hostile(payload.parent, behaviour))
    torrent = create_torrent(payload, web_seeds=[base], piece_length=PIECE)
    lt_seed.add(torrent, payload.parent, seed_mode=True)
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        await wait_for_note(session, info_hash, behaviour)  # the seed alone first: it must fail
        session.add_peer(info_hash, lt_seed.host, lt_seed.port)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        row = seed_row(session, info_hash)
        assert torrent_snapshot(session, info_hash).progress == 1.0
    assert_same_files(payload.parent, tmp_path / "got", NAMES)
    assert row is not None and behaviour in row.note, row


async def test_cli_download_from_a_web_seed(serve: Serve, payload: Path, tmp_path: Path) -> None:
    base = await serve(files_of(payload.parent))
    torrent = tmp_path / "payload.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=PIECE))  # no web seed in the file
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "--quiet", "download", str(torrent), "-o", str(tmp_path / "got"),
        "--web-seed", base, "--port", "0", "--bind", "127.0.0.1", "--no-dht", "--no-lsd",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        raise AssertionError("piecemeal-cli did not finish downloading from the web seed") from None
    assert process.returncode == 0, stderr.decode()
    assert_same_files(payload.parent, tmp_path / "got", NAMES)


async def test_cli_refuses_a_web_seed_that_is_not_http(tmp_path: Path, payload: Path) -> None:
    torrent = tmp_path / "payload.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=PIECE))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "download", str(torrent), "-o", str(tmp_path / "got"),
        "--web-seed", "ftp://127.0.0.1/x", "--no-dht", "--no-lsd",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "'ftp://127.0.0.1/x' is not an http or https web seed address" in stderr.decode()


@pytest.mark.parametrize("as_magnet", [False, True], ids=["torrent", "magnet"])
async def test_web_seed_added_by_hand_is_remembered(as_magnet: bool, payload: Path, tmp_path: Path) -> None:
    torrent = create_torrent(payload, piece_length=PIECE)
    source = format_magnet(parse_metainfo(torrent).info_hash, "payload") if as_magnet else torrent
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile) as session:
        info_hash = await session.add_torrent(source, tmp_path / "got", paused=True)
        await session.add_web_seed(info_hash, " http://127.0.0.1:1/pub/ ")
        await session.add_web_seed(info_hash, "http://127.0.0.1:1/pub/")  # once is enough
        with pytest.raises(EngineError, match="'file:///etc/' is not an http or https address"):
            await session.add_web_seed(info_hash, "file:///etc/")
    async with running_session(profile_dir=profile) as again:
        assert again.torrents[bytes.fromhex(info_hash)].web_seeds == ("http://127.0.0.1:1/pub/",)
        assert parse_magnet(again.magnet_uri(info_hash)).web_seeds == ("http://127.0.0.1:1/pub/",)


async def test_a_lying_web_seed_beside_a_peer_does_not_get_the_peer_banned(serve: Serve, tmp_path: Path) -> None:
    """Both sources from the start: the seed is dropped for its spoilt pieces, the peer stays."""
    payload = random_tree(tmp_path / "big" / "payload", {"big.bin": 3 * 1024 * 1024})
    torrent = create_torrent(payload, web_seeds=[await serve(hostile(payload.parent, BAD_BYTES))], piece_length=PIECE)
    async with running_session("127.0.0.2", up_limit=400_000) as seeder, running_session() as session:
        await seeder.add_torrent(torrent, payload.parent)
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        session.add_peer(info_hash, "127.0.0.2", seeder.listen_port or 0)  # both sources from the start
        await wait_for_note(session, info_hash, BAD_BYTES)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        assert session.torrents[bytes.fromhex(info_hash)].banned == set()
    assert_same_files(payload.parent, tmp_path / "got", ["payload/big.bin"])


async def test_web_seed_requests_leave_from_the_chosen_address(serve: Serve, payload: Path, tmp_path: Path) -> None:
    remotes: set[str | None] = set()
    files = files_of(payload.parent)

    async def recording(request: web.Request) -> web.StreamResponse:
        remotes.add(request.remote)
        return await files(request)

    torrent = create_torrent(payload, web_seeds=[await serve(recording)], piece_length=PIECE)
    async with running_session("127.0.0.3") as session:  # 'VPN only': bound to one address
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
    assert remotes == {"127.0.0.3"}


def http_seed_script(meta: Metainfo, root: Path, *, busy_for: int = 0) -> Handler:
    """A BEP 17 seed script: ?info_hash=...&piece=N[&ranges=a-b,...] gives those bytes of the
    piece; with `busy_for`, a 503 whose body says how long to wait."""
    blob = b"".join((root / Path(*f.path)).read_bytes() for f in meta.files)

    async def handler(request: web.Request) -> web.StreamResponse:
        if busy_for:
            return web.Response(status=503, text=str(busy_for))
        query = parse_qs(request.rel_url.raw_query_string, encoding="latin-1")
        assert query["info_hash"][0].encode("latin-1") == meta.info_hash
        piece = blob[int(query["piece"][0]) * meta.piece_length :][: meta.piece_length]
        spans = [span.split("-") for span in query.get("ranges", [f"0-{len(piece) - 1}"])[0].split(",")]
        return web.Response(body=b"".join(piece[int(a) : int(b) + 1] for a, b in spans))

    return handler


def with_http_seed(torrent: bytes, url: str) -> bytes:
    top, _ = decode_torrent(torrent)
    return encode({**top, b"httpseeds": [url.encode()]})


async def test_bep_17_http_seed_as_the_only_source(serve: Serve, payload: Path, tmp_path: Path) -> None:
    plain = create_torrent(payload, piece_length=PIECE)
    url = await serve(http_seed_script(parse_metainfo(plain), payload.parent))
    async with running_session() as session:
        info_hash = await session.add_torrent(with_http_seed(plain, url + "seed.php"), tmp_path / "got")
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        details = session.details(info_hash)
    assert_same_files(payload.parent, tmp_path / "got", NAMES)
    assert details is not None
    row = next(p for p in details.peers if p.is_web_seed)
    assert (row.client, row.address, row.downloaded) == (webseed.HTTP_SEED_NAME, url + "seed.php", sum(SIZES.values()))


async def test_busy_bep_17_seed_waits_as_its_body_says(serve: Serve, payload: Path, tmp_path: Path) -> None:
    plain = create_torrent(payload, piece_length=PIECE)
    url = await serve(http_seed_script(parse_metainfo(plain), payload.parent, busy_for=900))
    async with running_session() as session:
        info_hash = await session.add_torrent(with_http_seed(plain, url), tmp_path / "got")
        row = await wait_for_note(session, info_hash, "busy (HTTP 503)")
    assert 800 < seconds_to_retry(row) <= 900, row.note


async def test_busy_web_seed_waits_as_its_retry_after_says(serve: Serve, payload: Path, tmp_path: Path) -> None:
    torrent = create_torrent(payload, web_seeds=[await serve(hostile(payload.parent, "busy (HTTP 503)"))],
                             piece_length=PIECE)
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, tmp_path / "got")
        row = await wait_for_note(session, info_hash, "busy (HTTP 503)")
    assert 500 < seconds_to_retry(row) <= 600, row.note  # Retry-After: 600


def seconds_to_retry(row: PeerSnapshot) -> int:
    """'retrying in 599 s: ...' -> 599"""
    words = row.note.split()
    assert words[:2] == ["retrying", "in"] and words[3] == "s:", row.note
    return int(words[2])
