"""BEP 19 web seeds: an HTTP(S) server holding the torrent's files, used as a seed; and BEP 17
HTTP seeds, a script that serves pieces by number.

The pure part (no sockets, no clocks):

- `file_urls` builds each file's URL from the web seed's URL, as BEP 19 and libtorrent do;
- `runs` and `plan` turn the blocks the piece picker hands out into byte ranges, one HTTP
  range request per file a run of bytes touches (a piece may span several files);
  `http_seed_plan` does it for BEP 17: one request per piece, its ranges in the query;
- `check_response` judges a response's status and headers against the range asked for;
- `SeedHealth` decides when a failing seed is asked again, and when it is given up;
- `slow_pieces` names the started pieces peers are too slow with, for a seed to take over.

The asyncio part is `WebSeed`: it fetches the planned ranges with the session's aiohttp
client (so the user's bind address holds) and hands each block to its owner, the torrent,
as soon as its bytes are in.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, quote_from_bytes

import aiohttp
from yarl import URL

from app.engine.bitfield import Bitfield
from app.engine.errors import EngineError
from app.engine.metainfo import Metainfo
from app.engine.piece_picker import BLOCK_SIZE, Block
from app.engine.rate import RateMeter
from app.engine.rate_limit import Throttle
from app.engine.storage.layout import Layout
from app.engine.tracker.http_client import USER_AGENT, plain_words

log = logging.getLogger(__name__)

CLIENT_NAME = "Web seed"
HTTP_SEED_NAME = "HTTP seed"  # BEP 17
REQUEST_BYTES = 2 * 1024 * 1024  # asked of a seed at a time (whole pieces, at least one)
CONNECT_TIMEOUT = 20.0
READ_TIMEOUT = 30.0  # seconds without a byte of the body: the seed stalled
MAX_REDIRECTS = 5  # BEP 19 seeds may redirect (mirrors); a loop ends here
BACKOFF = (5.0, 30.0, 120.0, 300.0)  # seconds before asking again after the 1st, 2nd ... failure
MAX_FAILURES = 5  # failures in a row before the seed is dropped
MAX_RETRY_AFTER = 3600.0
HASH_STRIKES = 2  # failed pieces it shared in before a seed is dropped
# A started piece its peers will not finish within this many seconds, at their measured rates,
# is worth fetching from a seed too: whichever source delivers a block first wins.
SLOW_AFTER = 10.0
STALL_GRACE = 5.0  # seconds a peer with requests but no measured rate has before it counts as stalled
_CHUNK = 64 * 1024
# RFC 3986 pchar, without ';' (some servers cut path parameters there): kept as they are.
_SAFE = "-._~!$&'()*+,=:@"


class WebSeedError(EngineError):
    """The seed failed one request; `retry_after` is the server's own wish (503 Retry-After)."""

    def __init__(self, reason: str, retry_after: float | None = None, busy: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.busy = busy


# -- the pure part ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """`length` bytes of one file from byte `first`: one range request, or zeros when `url`
    is None (a BEP 47 pad file, which no server holds)."""

    url: str | None
    first: int
    length: int
    file_length: int
    ranged: bool = True  # a Range header (BEP 19); BEP 17 puts the range in the URL instead

    @property
    def range_header(self) -> str:
        return f"bytes={self.first}-{self.first + self.length - 1}"

    @property
    def whole_file(self) -> bool:
        return self.first == 0 and self.length == self.file_length


def file_urls(url: str, metainfo: Metainfo) -> tuple[str | None, ...]:
    """Each file's URL (None for pad files).

    BEP 19: a URL ending in '/' gets the torrent's name added; for a multi-file torrent it
    is the folder holding the torrent's folder: url + name + '/' + path, each part
    percent-encoded. A multi-file URL without the '/' is taken as the folder too (libtorrent).
    """
    if not metainfo.multi_file:
        only = url + _escaped(metainfo.files[0].path) if url.endswith("/") else url
        return (only,)
    folder = url if url.endswith("/") else url + "/"
    return tuple(None if f.padding else folder + _escaped(f.path) for f in metainfo.files)


def _escaped(parts: Sequence[str]) -> str:
    return "/".join(quote(part, safe=_SAFE) for part in parts)


def runs(blocks: Iterable[Block], piece_length: int) -> list[tuple[int, list[Block]]]:
    """The blocks sorted and cut into runs of adjacent bytes: (torrent offset, blocks)."""
    result: list[tuple[int, list[Block]]] = []
    end = -1
    for block in sorted(blocks, key=lambda b: (b.piece, b.offset)):
        start = block.piece * piece_length + block.offset
        if start != end:
            result.append((start, []))
        result[-1][1].append(block)
        end = start + block.length
    return result


def plan(urls: Sequence[str | None], layout: Layout, offset: int, length: int) -> list[Segment]:
    """The requests for torrent bytes [offset, offset + length): one per file they touch."""
    return [
        Segment(urls[span.file_index], span.file_offset, span.length, layout.file_lengths[span.file_index])
        for span in layout.spans(offset, length)
    ]


def http_seed_plan(url: str, info_hash: bytes, layout: Layout, offset: int, length: int) -> list[Segment]:
    """BEP 17: <url>?info_hash=...&piece=N&ranges=a-b for each piece the bytes touch (no
    ranges when the whole piece is asked for); the answer is a 200 with those bytes."""
    segments = []
    end = offset + length
    joiner = "&" if "?" in url else "?"
    while offset < end:
        piece, start = divmod(offset, layout.piece_length)
        size = layout.piece_size(piece)
        taken = min(end - offset, size - start)
        query = f"info_hash={quote_from_bytes(info_hash, safe='')}&piece={piece}"
        if taken != size:
            query += f"&ranges={start}-{start + taken - 1}"
        segments.append(Segment(url + joiner + query, start, taken, size, ranged=False))
        offset += taken
    return segments


def check_response(segment: Segment, status: int, reason: str, content_range: str | None) -> None:
    """Raise WebSeedError unless the response carries exactly the bytes asked for.

    RFC 9110: 206 with a Content-Range naming our range; a 200 is the whole file, which is
    what we asked for only if the range covers the whole file. BEP 17: a 200 is the bytes.
    """
    if status == 200 and not segment.ranged:
        return
    if status == 206:
        if _parse_content_range(content_range) != (segment.first, segment.first + segment.length - 1):
            raise WebSeedError(f"answered with other bytes than asked for ({content_range or 'no range'})")
        return
    if status == 200:
        if not segment.whole_file:
            raise WebSeedError("the server does not support range requests")
        return
    if status in (429, 503):
        raise WebSeedError(f"busy (HTTP {status})", busy=True)  # BEP 19: no reason to discard it
    raise WebSeedError(f"HTTP {status} {reason}".rstrip())


def _parse_content_range(value: str | None) -> tuple[int, int] | None:
    """'bytes 0-99/1000' -> (0, 99); anything else -> None."""
    if value is None:
        return None
    unit, _, rest = value.strip().partition(" ")
    span, _, _ = rest.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit() or not last.isdigit():
        return None
    return int(first), int(last)


def retry_after(value: str | None) -> float | None:
    """RFC 9110 Retry-After in seconds (an HTTP date is taken as 'no advice'), capped."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), MAX_RETRY_AFTER)


class SeedHealth:
    """When to ask a seed again, and when to give it up (pure: `now` comes in)."""

    __slots__ = ("failures", "strikes", "retry_at", "reason", "dropped")

    def __init__(self) -> None:
        self.failures = 0  # in a row
        self.strikes = 0
        self.retry_at = 0.0
        self.reason = ""  # the last failure, for the peer table
        self.dropped = False

    def ready(self, now: float) -> bool:
        return not self.dropped and now >= self.retry_at

    def succeeded(self) -> None:
        self.failures = 0
        self.reason = ""

    def failed(self, error: WebSeedError, now: float) -> None:
        """Back off: the server's Retry-After if it gave one, else longer after each failure.
        A busy server is asked again later however often it is busy (BEP 19)."""
        self.reason = str(error)
        if not error.busy:
            self.failures += 1
            if self.failures >= MAX_FAILURES:
                self.dropped = True
                return
        delay = BACKOFF[min(self.failures, len(BACKOFF)) - 1] if self.failures else BACKOFF[0]
        self.retry_at = now + (error.retry_after if error.retry_after is not None else delay)

    def hash_failed(self, alone: bool) -> None:
        """BEP 19: a piece from the seed alone failed its hash: discard the seed. One shared
        with peers is a strike; the culprit may have been a peer."""
        self.strikes += HASH_STRIKES if alone else 1
        if self.strikes >= HASH_STRIKES:
            self.dropped = True
            self.reason = "sent data that failed the hash check"

    def status(self, now: float) -> str:
        """'' when all is well; else what happened, for the peer table."""
        if self.dropped:
            return f"dropped: {self.reason}"
        if now < self.retry_at:
            return f"retrying in {self.retry_at - now:.0f} s: {self.reason}"
        return f"failed: {self.reason}" if self.reason else ""  # asked again when needed


@dataclass(frozen=True, slots=True)
class PeerQueue:
    """One peer's requests in flight, in the order it serves them, and how fast it serves."""

    rate: float  # bytes a second, measured
    last_block_at: float  # when its last block came in (or it connected)
    blocks: tuple[Block, ...]


def slow_pieces(queues: Iterable[PeerQueue], now: float, *, endgame: bool = False) -> list[int]:
    """The started pieces whose blocks in flight the peers will not all deliver within
    SLOW_AFTER seconds, the slowest first; in the endgame (every block asked for), every piece
    in flight, slowest first: the last pieces should wait on no peer slower than a seed.

    Peers serve requests in the order they were asked (BEP 3 leaves it open; clients do), so a
    block arrives once the bytes queued up to it have come in at the peer's rate; a peer with
    no rate that sent nothing for STALL_GRACE seconds has stalled. A block asked of several
    peers comes from the quickest; a piece is done when its last block is.
    """
    arrival: dict[Block, float] = {}
    for queue in queues:
        for block, eta in _arrivals(queue, now):
            arrival[block] = min(eta, arrival.get(block, math.inf))
    finish: dict[int, float] = {}
    for block, eta in arrival.items():
        finish[block.piece] = max(eta, finish.get(block.piece, 0.0))
    cutoff = -math.inf if endgame else SLOW_AFTER
    slow = [piece for piece, eta in finish.items() if eta > cutoff]
    return sorted(slow, key=lambda piece: -finish[piece])


def _arrivals(queue: PeerQueue, now: float) -> Iterator[tuple[Block, float]]:
    """Each block in flight with the seconds until it should arrive."""
    if queue.rate <= 0:
        eta = math.inf if now - queue.last_block_at > STALL_GRACE else 0.0
        yield from ((block, eta) for block in queue.blocks)
        return
    ahead = 0
    for block in queue.blocks:
        ahead += block.length
        yield block, ahead / queue.rate


# -- the asyncio part ------------------------------------------------------------------------


class WebSeedOwner(Protocol):
    """What a web seed needs from its torrent."""

    throttle: Throttle  # the torrent's and the session's download limits apply to seeds too

    def web_seed_blocks(self, seed: WebSeed, count: int) -> list[Block]: ...

    def block_received(self, peer: WebSeed, block: Block, data: memoryview) -> None: ...

    def blocks_returned(self, peer: WebSeed, blocks: list[Block]) -> None: ...

    def web_seed_failed(self, seed: WebSeed, error: WebSeedError) -> None: ...


class WebSeed:
    """One web seed of a torrent: asks its owner for blocks, fetches them, hands them back.

    One batch (about REQUEST_BYTES of whole pieces) is in flight at a time, so a slow seed
    holds few pieces and a fast one asks again as soon as a batch is in.
    """

    def __init__(
        self, url: str, metainfo: Metainfo, layout: Layout, owner: WebSeedOwner,
        http: Callable[[], aiohttp.ClientSession | None], *, http_seed: bool = False,
    ) -> None:
        self.url = url
        self.http_seed = http_seed  # BEP 17 rather than BEP 19
        self._info_hash = metainfo.info_hash
        self.health = SeedHealth()
        self.down = RateMeter()
        self.pieces = Bitfield.full(metainfo.num_pieces)  # BEP 19: a seed has them all
        self._urls = file_urls(url, metainfo)
        self._layout = layout
        self._owner = owner
        self._http = http
        blocks_per_piece = -(-metainfo.piece_length // BLOCK_SIZE)
        self._batch = blocks_per_piece * max(1, REQUEST_BYTES // metainfo.piece_length)
        self._task: asyncio.Task[None] | None = None
        self._undelivered: set[Block] = set()
        self.won = 0  # blocks it delivered first that a peer was fetching too (its requests cancelled)
        self.lost = 0  # blocks of its batch a peer delivered first: skipped, or their bytes dropped

    def __repr__(self) -> str:
        return f"WebSeed({self.url!r})"

    @property
    def client(self) -> str:
        return HTTP_SEED_NAME if self.http_seed else CLIENT_NAME

    @property
    def busy(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Fetch until the owner has nothing more to ask of it (then the owner starts it again)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
            self._task.add_done_callback(self._done)

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the fetch in flight (its blocks go back to the owner); the task, to await."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        return task

    def cancel(self, block: Block) -> None:
        """A peer delivered `block` first: the seed no longer fetches it, and stops reading a
        range once none of its blocks is wanted."""
        if block in self._undelivered:
            self._undelivered.discard(block)
            self.lost += 1

    def _done(self, task: asyncio.Task[None]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            log.warning("web seed %s: %s", self.url, task.exception())

    async def _run(self) -> None:
        try:
            while blocks := self._owner.web_seed_blocks(self, self._batch):
                self._undelivered = set(blocks)
                await self._fetch(self._layout.piece_length)
                self.health.succeeded()
        except WebSeedError as error:
            self._owner.web_seed_failed(self, error)
        finally:
            self._owner.blocks_returned(self, sorted(self._undelivered, key=lambda b: (b.piece, b.offset)))
            self._undelivered = set()

    async def _fetch(self, piece_length: int) -> None:
        for start, blocks in runs(self._undelivered, piece_length):
            await self._fetch_run(start, blocks, piece_length)

    async def _fetch_run(self, start: int, blocks: list[Block], piece_length: int) -> None:
        """Fetch adjacent bytes, file by file, handing each block over once it is whole."""
        length = sum(block.length for block in blocks)
        run = _Run(start, bytearray(length), blocks, piece_length)
        for segment in self._plan(start, length):
            if not run.wanted(self._undelivered):
                return  # peers delivered the rest first
            if segment.url is None:
                run.add(bytes(segment.length))  # BEP 47: pad files are zeros
                self._hand_over(run)
            else:
                await self._get(segment, run)

    def _hand_over(self, run: _Run) -> None:
        """The blocks whose bytes are all in, to the owner (unless a peer's copy came first)."""
        for block, data in run.whole_blocks():
            if block in self._undelivered:
                self._undelivered.discard(block)
                self._owner.block_received(self, block, data)

    async def _get(self, segment: Segment, run: _Run) -> None:
        http = self._http()
        if http is None:
            raise WebSeedError("the network is not started")
        try:
            await self._request(http, segment, run)
        except (aiohttp.ClientError, OSError) as error:
            raise WebSeedError(_seed_words(error)) from error

    async def _request(self, http: aiohttp.ClientSession, segment: Segment, run: _Run) -> None:
        assert segment.url is not None
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if segment.ranged:
            headers["Range"] = segment.range_header
        async with http.get(
            URL(segment.url), headers=headers, timeout=timeout, max_redirects=MAX_REDIRECTS
        ) as response:
            try:
                check_response(segment, response.status, response.reason or "", response.headers.get("Content-Range"))
            except WebSeedError as error:
                error.retry_after = await _retry_after(response, segment)
                raise
            if response.content_length is not None and response.content_length != segment.length:
                raise WebSeedError(f"sent {response.content_length} bytes for a range of {segment.length}")
            await self._read_body(response, segment, run)

    def _plan(self, offset: int, length: int) -> list[Segment]:
        if self.http_seed:
            return http_seed_plan(self.url, self._info_hash, self._layout, offset, length)
        return plan(self._urls, self._layout, offset, length)

    async def _read_body(self, response: aiohttp.ClientResponse, segment: Segment, run: _Run) -> None:
        got = 0
        throttle = self._owner.throttle
        async for chunk in response.content.iter_chunked(throttle.read_bytes(_CHUNK)):
            got += len(chunk)
            if got > segment.length:
                raise WebSeedError("sent more bytes than asked for")
            run.add(chunk)
            self.down.add(len(chunk))
            self._hand_over(run)
            await throttle.download(len(chunk))
            if not run.wanted(self._undelivered):
                return  # peers delivered the rest first: leaving closes the response
        if got < segment.length:
            raise WebSeedError("the response ended early")


async def _retry_after(response: aiohttp.ClientResponse, segment: Segment) -> float | None:
    """The server's Retry-After; BEP 17 scripts say it in a 503's body, as a number of seconds."""
    advice = retry_after(response.headers.get("Retry-After"))
    if advice is None and not segment.ranged and response.status == 503:
        advice = retry_after((await response.content.read(32)).decode("ascii", "replace"))
    return advice


class _Run:
    """Bytes of one run as they arrive, and the blocks they complete."""

    __slots__ = ("start", "buffer", "filled", "blocks", "next", "piece_length")

    def __init__(self, start: int, buffer: bytearray, blocks: list[Block], piece_length: int) -> None:
        self.start = start
        self.buffer = buffer
        self.filled = 0
        self.blocks = blocks
        self.next = 0
        self.piece_length = piece_length

    def add(self, data: bytes) -> None:
        self.buffer[self.filled : self.filled + len(data)] = data
        self.filled += len(data)

    def wanted(self, undelivered: set[Block]) -> bool:
        """Is a block of the run not yet handed over still to be fetched?"""
        return any(block in undelivered for block in self.blocks[self.next :])

    def whole_blocks(self) -> list[tuple[Block, memoryview]]:
        whole = []
        view = memoryview(self.buffer)
        while self.next < len(self.blocks):
            block = self.blocks[self.next]
            at = block.piece * self.piece_length + block.offset - self.start
            if at + block.length > self.filled:
                break
            whole.append((block, view[at : at + block.length]))
            self.next += 1
        return whole


# Checked in order before the trackers' words, which would name a tracker.
_SEED_WORDS: tuple[tuple[type[BaseException], Callable[[], str]], ...] = (
    (aiohttp.SocketTimeoutError, lambda: f"stalled: no data for {READ_TIMEOUT:.0f} s"),
    (aiohttp.TooManyRedirects, lambda: "too many redirects (a redirect loop)"),
    (aiohttp.InvalidURL, lambda: "invalid web seed URL"),
    (aiohttp.NonHttpUrlClientError, lambda: "redirected to an invalid address"),
    (aiohttp.ServerDisconnectedError, lambda: "connection closed by the server"),
    (aiohttp.ClientPayloadError, lambda: "incomplete response from the server"),
)


def _seed_words(error: BaseException) -> str:
    for kind, words in _SEED_WORDS:
        if isinstance(error, kind):
            return words()
    return plain_words(error)
