"""One torrent's trackers: the announce loop around `AnnounceList` and the HTTP and UDP clients.

BEP 7 lets a client either announce once over each address family or name its IPv6 address in
an `ipv6=` parameter. We announce once per family we listen on, as libtorrent 2.0 does (one
announce per listen socket, bound to it; http_tracker_connection.cpp drops the tracker
addresses that socket cannot reach), so each family's tracker sees the address it can give
out. One tracker's answer is the answers of its families merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from app.engine.errors import TrackerError
from app.engine.snapshots import TrackerSnapshot
from app.engine.sockets import Sockets
from app.engine.tracker import compact
from app.engine.tracker.announce_list import AnnounceList, TrackerState
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry
from app.engine.tracker.udp_client import UdpTrackerClient

log = logging.getLogger(__name__)

Peer = tuple[str, int]


class TrackerNetwork(Protocol):
    """What an announce takes from the session, asked anew for each one: the user may change
    the listen port or address (and with it the HTTP client) while torrents run."""

    @property
    def port(self) -> int: ...

    @property
    def http(self) -> Mapping[int, aiohttp.ClientSession] | None: ...

    @property
    def sockets(self) -> Sockets: ...


@dataclass(frozen=True, slots=True)
class FixedNetwork:
    """A port that never changes; no shared HTTP clients (the manager makes its own)."""

    port: int
    http: Mapping[int, aiohttp.ClientSession] | None = None
    sockets: Sockets = Sockets()


class TrackerManager:
    """Announces one torrent to its announce-list (BEP 12) until `stop`.

    `stats` is asked for (uploaded, downloaded, left) at each announce; `on_peers` receives the
    addresses each answer brings; `on_change` hears that what `snapshot()` shows changed (an
    announce began or ended, a scrape came back). Failures never leave the background task: they are logged and
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
        on_change: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
        numwant: int = 50,
        clock: Callable[[], float] = time.monotonic,
        udp_retry_base: float = 15.0,
    ) -> None:
        rng = rng or random.Random()
        self._list = AnnounceList(tiers, rng)
        self._info_hash, self._peer_id, self._network = info_hash, peer_id, network
        self._stats, self._on_peers, self._on_change = stats, on_peers, on_change
        self._numwant = numwant
        self._clock = clock
        self._key = rng.getrandbits(32)  # BEP 3 'key': the same for the whole session
        self._own_http = HttpTrackerClient()  # used only when the network shares no client
        self._udp: dict[tuple[str, int], UdpTrackerClient] = {}
        self._udp_retry_base = udp_retry_base
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def fresh(self) -> bool:
        """Neither started nor stopped yet: a run can still use it."""
        return self._task is None and not self._stopped

    def start(self, delay: float = 0.0) -> None:
        """Start announcing in a background task: 'started' goes out after `delay` seconds
        (a session restoring thousands of torrents spreads them), or at `announce_now`."""
        if self._task is None and not self._stopped:
            self._task = asyncio.get_running_loop().create_task(
                self._run(delay), name="tracker announces"
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

    def fingerprint(self) -> tuple[object, ...]:
        """Equal while snapshot() would say the same, its countdowns counted in minutes."""
        trackers = self._list.trackers()
        if not trackers:
            return ()
        now = self._clock()
        return tuple(
            (t.status, t.message, t.seeds, t.peers, t.answered_at, t.failed_at,
             _minutes_left(self._list.next_announce(t), now))
            for t in trackers
        )

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

    async def _run(self, delay: float) -> None:
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
        while True:
            await self._sleep_until_due()
            if self._list.announce_at() <= self._clock():
                await self._round()
            for tracker in self._list.scrapes_due(self._clock()):
                await self._scrape(tracker)

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
        self._on_change()
        try:
            return await self._announce_to(tracker)
        finally:
            self._on_change()

    async def _announce_to(self, tracker: TrackerState) -> bool:
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

    async def _scrape(self, tracker: TrackerState) -> None:
        """BEP 48: the swarm's counts, for a tracker whose announces leave them out."""
        scrapers: dict[str, Callable[[str], Awaitable[dict[bytes, ScrapeEntry]]]] = {
            "http": self._scrape_http, "https": self._scrape_http, "udp": self._scrape_udp,
        }
        scraper = scrapers.get(urlsplit(tracker.url).scheme.lower())
        entry = None
        try:
            if scraper is not None:
                entry = (await scraper(tracker.url)).get(self._info_hash)
        except TrackerError as error:
            log.info("tracker %s: scrape failed: %s", tracker.url, error)
        except Exception:
            log.exception("scraping %s failed", tracker.url)
        self._list.scraped(tracker, entry, self._clock())
        self._on_change()

    async def _scrape_http(self, url: str) -> dict[bytes, ScrapeEntry]:
        # One family's counts will do: a scrape adds no peers.
        shared = (self._network.http or {}).get(self._families(url)[0])
        client = self._own_http if shared is None else HttpTrackerClient(shared)
        return await client.scrape(url, [self._info_hash])

    async def _scrape_udp(self, url: str) -> dict[bytes, ScrapeEntry]:
        return await self._udp_client(url, self._families(url)[0]).scrape([self._info_hash])

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

    async def _announce(self, url: str, request: AnnounceRequest) -> AnnounceResponse:
        """Announce over each family (BEP 7); an answer from one of them is an answer."""
        families = self._families(url)
        outcomes = await asyncio.gather(
            *(self._announce_over(url, request, family) for family in families), return_exceptions=True
        )
        answers = [outcome for outcome in outcomes if isinstance(outcome, AnnounceResponse)]
        if not answers:
            raise next(outcome for outcome in outcomes if isinstance(outcome, BaseException))
        peers = dict.fromkeys(peer for answer in answers for peer in answer.peers)
        return dataclasses.replace(answers[0], peers=tuple(peers))

    def _families(self, url: str) -> tuple[int, ...]:
        """The families we speak, or the one of a tracker named by an IP address."""
        spoken = self._network.sockets.families
        literal = compact.address_family(urlsplit(url).hostname or "")
        if literal is None:
            return spoken
        if literal not in spoken:
            raise TrackerError(f"the tracker is {_FAMILY_NAMES[literal]}, the chosen address is not")
        return (literal,)

    async def _announce_over(self, url: str, request: AnnounceRequest, family: int) -> AnnounceResponse:
        announcers: dict[str, Callable[[str, AnnounceRequest, int], Awaitable[AnnounceResponse]]] = {
            "http": self._announce_http,
            "https": self._announce_http,
            "udp": self._announce_udp,
        }
        announcer = announcers.get(urlsplit(url).scheme.lower())
        if announcer is None:
            raise TrackerError("unsupported tracker URL")
        return await announcer(url, request, family)

    async def _announce_http(self, url: str, request: AnnounceRequest, family: int) -> AnnounceResponse:
        # The session's current clients: a new listen host makes new ones.
        shared = (self._network.http or {}).get(family)
        client = self._own_http if shared is None else HttpTrackerClient(shared)
        return await client.announce(url, request)

    async def _announce_udp(self, url: str, request: AnnounceRequest, family: int) -> AnnounceResponse:
        return await self._udp_client(url, family).announce(request)

    def _udp_client(self, url: str, family: int) -> UdpTrackerClient:
        sockets = self._network.sockets  # a new bind address takes effect at the next announce
        client = self._udp.get((url, family))
        if client is None or client.sockets != sockets:
            if client is not None:
                client.close()
            client = UdpTrackerClient(url, retry_base=self._udp_retry_base, sockets=sockets, family=family)
            self._udp[(url, family)] = client
        return client

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


_FAMILY_NAMES = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}


def _minutes_left(at: float | None, now: float) -> int | None:
    return None if at is None or at == math.inf else int(max(0.0, at - now) // 60)


def _last_try_worked(tracker: TrackerState) -> bool:
    """True from an answer until the next failure (an announce in flight does not count as one)."""
    if tracker.answered_at is None:
        return False
    return tracker.failed_at is None or tracker.answered_at >= tracker.failed_at
