"""One torrent's trackers: the announce loop around `AnnounceList` and the HTTP and UDP clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from app.engine.errors import TrackerError
from app.engine.snapshots import TrackerSnapshot
from app.engine.sockets import Sockets
from app.engine.tracker.announce_list import AnnounceList, TrackerState
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse
from app.engine.tracker.udp_client import UdpTrackerClient

log = logging.getLogger(__name__)

Peer = tuple[str, int]


class TrackerNetwork(Protocol):
    """What an announce takes from the session, asked anew for each one: the user may change
    the listen port or address (and with it the HTTP client) while torrents run."""

    @property
    def port(self) -> int: ...

    @property
    def http(self) -> aiohttp.ClientSession | None: ...

    @property
    def sockets(self) -> Sockets: ...


@dataclass(frozen=True, slots=True)
class FixedNetwork:
    """A port that never changes; no shared HTTP client (the manager makes its own)."""

    port: int
    http: aiohttp.ClientSession | None = None
    sockets: Sockets = Sockets()


class TrackerManager:
    """Announces one torrent to its announce-list (BEP 12) until `stop`.

    `stats` is asked for (uploaded, downloaded, left) at each announce; `on_peers` receives the
    addresses each answer brings. Failures never leave the background task: they are logged and
    shown on the tracker they belong to.
    """

    def __init__(
        self,
        tiers: Sequence[Sequence[str]],
        *,
        info_hash: bytes,
        peer_id: bytes,
        network: TrackerNetwork,
        stats: Callable[[], tuple[int, int, int]],
        on_peers: Callable[[list[Peer]], None],
        rng: random.Random | None = None,
        numwant: int = 50,
        clock: Callable[[], float] = time.monotonic,
        udp_retry_base: float = 15.0,
    ) -> None:
        rng = rng or random.Random()
        self._list = AnnounceList(tiers, rng)
        self._info_hash, self._peer_id, self._network = info_hash, peer_id, network
        self._stats, self._on_peers = stats, on_peers
        self._numwant = numwant
        self._clock = clock
        self._key = rng.getrandbits(32)  # BEP 3 'key': the same for the whole session
        self._own_http = HttpTrackerClient()  # used only when the network shares no client
        self._udp: dict[str, UdpTrackerClient] = {}
        self._udp_retry_base = udp_retry_base
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Start announcing in a background task ('started' goes out at once)."""
        if self._task is None and not self._stopped:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="tracker announces"
            )

    def add_tiers(self, tiers: Sequence[Sequence[str]]) -> None:
        """Trackers merged from another copy of the torrent: asked from the next round on."""
        self._list.add_tiers(tiers)

    def announce_now(self) -> None:
        self._list.force(self._clock())
        self._wake.set()

    def completed(self) -> None:
        self._list.mark_completed(self._clock())
        self._wake.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel the loop; 'stopped' to the trackers that got 'started', within `timeout`."""
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        started = self._list.started_trackers()
        if started:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*map(self._send_stopped, started)), timeout)
        await self._own_http.close()
        for client in self._udp.values():
            client.close()

    def snapshot(self) -> tuple[TrackerSnapshot, ...]:
        now, wall = self._clock(), time.time()
        return tuple(self._snapshot_of(tracker, now, wall) for tracker in self._list.trackers())

    @property
    def status_text(self) -> str:
        """Empty while a tracker works or none has been asked yet, else the latest failure."""
        trackers = self._list.trackers()
        if any(_last_try_worked(t) for t in trackers):
            return ""
        failed = [t for t in trackers if t.failed_at is not None]
        if not failed:
            return ""
        return f"Tracker: {max(failed, key=lambda t: t.failed_at or 0.0).message}"

    @property
    def seeds(self) -> int | None:
        return max((t.seeds for t in self._list.trackers() if t.seeds is not None), default=None)

    @property
    def peers(self) -> int | None:
        return max((t.peers for t in self._list.trackers() if t.peers is not None), default=None)

    async def _run(self) -> None:
        while True:
            await self._sleep_until_due()
            await self._round()

    async def _sleep_until_due(self) -> None:
        while True:
            self._wake.clear()
            delay = self._list.due_at() - self._clock()
            if delay <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(delay, 24 * 3600.0))

    async def _round(self) -> None:
        """BEP 12: ask the trackers tier by tier, in order, until one answers."""
        for tracker in self._list.begin_round(self._clock()):
            if await self._announce_one(tracker):
                return
        self._list.round_failed()

    async def _announce_one(self, tracker: TrackerState) -> bool:
        self._list.announcing(tracker)
        try:
            request = self._request(self._list.event_for(tracker), tracker.tracker_id)
            response = await self._announce(tracker.url, request)
        except TrackerError as error:
            log.info("tracker %s: %s", tracker.url, error)
            self._list.failed(tracker, str(error), self._clock())
            return False
        except Exception:
            log.exception("announcing to %s failed", tracker.url)
            self._list.failed(tracker, "internal error", self._clock())
            return False
        self._list.succeeded(tracker, request, response, self._clock())
        self._deliver(list(response.peers))
        return True

    async def _send_stopped(self, tracker: TrackerState) -> None:
        try:
            await self._announce(
                tracker.url, self._request(AnnounceEvent.STOPPED, tracker.tracker_id)
            )
        except TrackerError as error:
            log.info("tracker %s: 'stopped' failed: %s", tracker.url, error)
        except Exception:
            log.exception("sending 'stopped' to %s failed", tracker.url)
        else:
            self._list.stopped(tracker)

    def _request(self, event: AnnounceEvent, tracker_id: bytes | None) -> AnnounceRequest:
        uploaded, downloaded, left = self._stats()
        return AnnounceRequest(
            info_hash=self._info_hash,
            peer_id=self._peer_id,
            port=self._network.port,
            uploaded=uploaded,
            downloaded=downloaded,
            left=left,
            event=event,
            numwant=0 if event is AnnounceEvent.STOPPED else self._numwant,
            key=self._key,
            tracker_id=tracker_id,
        )

    def _announce(self, url: str, request: AnnounceRequest) -> Awaitable[AnnounceResponse]:
        announcers: dict[str, Callable[[str, AnnounceRequest], Awaitable[AnnounceResponse]]] = {
            "http": self._announce_http,
            "https": self._announce_http,
            "udp": self._announce_udp,
        }
        announcer = announcers.get(urlsplit(url).scheme.lower())
        if announcer is None:
            raise TrackerError("unsupported tracker URL")
        return announcer(url, request)

    async def _announce_http(self, url: str, request: AnnounceRequest) -> AnnounceResponse:
        shared = self._network.http  # the session's current client: a new listen host makes a new one
        client = self._own_http if shared is None else HttpTrackerClient(shared)
        return await client.announce(url, request)

    async def _announce_udp(self, url: str, request: AnnounceRequest) -> AnnounceResponse:
        sockets = self._network.sockets  # a new bind address takes effect at the next announce
        client = self._udp.get(url)
        if client is None or client.sockets != sockets:
            if client is not None:
                client.close()
            client = UdpTrackerClient(url, retry_base=self._udp_retry_base, sockets=sockets)
            self._udp[url] = client
        return await client.announce(request)

    def _deliver(self, peers: list[Peer]) -> None:
        if not peers:
            return
        try:
            self._on_peers(peers)
        except Exception:
            log.exception("handing tracker peers to the torrent failed")

    def _snapshot_of(self, tracker: TrackerState, now: float, wall: float) -> TrackerSnapshot:
        next_at = self._list.next_announce(tracker)
        answered = tracker.answered_at
        return TrackerSnapshot(
            url=tracker.url,
            tier=tracker.tier,
            status=tracker.status,
            message=tracker.message,
            seeds=tracker.seeds,
            peers=tracker.peers,
            next_announce=None
            if next_at is None or next_at == math.inf
            else max(0.0, next_at - now),
            last_announce=None if answered is None else wall - (now - answered),
        )


def _last_try_worked(tracker: TrackerState) -> bool:
    """True from an answer until the next failure (an announce in flight does not count as one)."""
    if tracker.answered_at is None:
        return False
    return tracker.failed_at is None or tracker.answered_at >= tracker.failed_at
