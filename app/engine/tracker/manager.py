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
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from app.engine.errors import TrackerError
from app.engine.snapshots import TrackerSnapshot
from app.engine.sockets import Sockets
from app.engine.tracker import compact
from app.engine.tracker.announce_list import AnnounceList, TrackerState
from app.engine.tracker.merged_row import merged_row
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


@dataclass(slots=True)
class _Swarm:
    """One id of the torrent and its announce schedule; `wake` cuts its wait short."""

    info_hash: bytes
    schedule: AnnounceList
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class TrackerManager:
    """Announces one torrent to its announce-list (BEP 12) until `stop`, under each of its
    `info_hashes` (a hybrid torrent has two, BEP 52).

    `stats` is asked for (uploaded, downloaded, left) at each announce; `on_peers` receives the
    addresses each answer brings; `on_change` hears that what `snapshot()` shows changed (an
    announce began or ended, a scrape came back). Failures never leave the background task: they are logged and
    shown on the tracker they belong to.
    """

    def __init__(
        self,
        tiers: Sequence[Sequence[str]],
        *,
        info_hashes: Sequence[bytes],
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
        self._tiers = [tuple(tier) for tier in tiers]
        self._shuffle_seed = rng.getrandbits(64)  # every id's list shuffled alike: one row per tracker
        self._swarms: list[_Swarm] = []
        self._peer_id, self._network = peer_id, network
        self._stats, self._on_peers, self._on_change = stats, on_peers, on_change
        self._numwant = numwant
        self._clock = clock
        self._key = rng.getrandbits(32)  # BEP 3 'key': the same for the whole session
        self._own_http = HttpTrackerClient()  # used only when the network shares no client
        self._udp: dict[tuple[str, int], UdpTrackerClient] = {}
        self._udp_retry_base = udp_retry_base
        self._tasks: list[asyncio.Task[None]] = []
        self._delay_until = 0.0  # monotonic: no first announce before (start's delay)
        self._started = self._stopped = False
        self.add_info_hashes(info_hashes)

    @property
    def started(self) -> bool:
        return self._started

    @property
    def fresh(self) -> bool:
        """Neither started nor stopped yet: a run can still use it."""
        return not self._started and not self._stopped

    @property
    def info_hashes(self) -> tuple[bytes, ...]:
        return tuple(swarm.info_hash for swarm in self._swarms)

    def start(self, delay: float = 0.0) -> None:
        """Start announcing in background tasks, one per id: 'started' goes out after `delay`
        seconds (a session restoring thousands of torrents spreads them), or at `announce_now`."""
        if self._started or self._stopped:
            return
        self._started = True
        self._delay_until = self._clock() + delay
        for swarm in self._swarms:
            self._launch(swarm, delay)

    def add_info_hashes(self, info_hashes: Sequence[bytes]) -> None:
        """Ids not announced yet (a magnet's metadata shows a hybrid torrent): from now on they are."""
        known = set(self.info_hashes)
        for info_hash in dict.fromkeys(info_hashes):
            if info_hash in known:
                continue
            swarm = _Swarm(info_hash, AnnounceList(self._tiers, random.Random(self._shuffle_seed)))
            self._swarms.append(swarm)
            if self._started and not self._stopped:
                self._launch(swarm, self._delay_until - self._clock())

    def _launch(self, swarm: _Swarm, delay: float) -> None:
        task = asyncio.get_running_loop().create_task(self._run(swarm, delay), name="tracker announces")
        self._tasks.append(task)

    def add_tiers(self, tiers: Sequence[Sequence[str]]) -> None:
        """Trackers merged from another copy of the torrent: asked from the next round on."""
        self._tiers.extend(tuple(tier) for tier in tiers)
        for swarm in self._swarms:
            swarm.schedule.add_tiers(tiers)

    def announce_now(self) -> None:
        now = self._clock()
        for swarm in self._swarms:
            swarm.schedule.force(now)
            swarm.wake.set()

    def completed(self) -> None:
        """BEP 3 'completed', under each id: each swarm counts its own downloads."""
        now = self._clock()
        for swarm in self._swarms:
            swarm.schedule.mark_completed(now)
            swarm.wake.set()

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel the loops; 'stopped' to the trackers that got 'started' (under each id that
        did), within `timeout`."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        farewells = [
            self._send_stopped(swarm, tracker) for swarm in self._swarms for tracker in swarm.schedule.started_trackers()
        ]
        if farewells:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*farewells), timeout)
        await self._own_http.close()
        for client in self._udp.values():
            client.close()

    def snapshot(self) -> tuple[TrackerSnapshot, ...]:
        now, wall = self._clock(), time.time()
        return tuple(self._snapshot_of(row, now, wall) for row in self._rows())

    def fingerprint(self) -> tuple[object, ...]:
        """Equal while snapshot() would say the same, its countdowns counted in minutes."""
        states = self._states()
        if not states:
            return ()
        now = self._clock()
        return tuple(
            (t.status, t.message, t.seeds, t.peers, t.answered_at, t.failed_at,
             _minutes_left(schedule.next_announce(t), now))
            for schedule, t in states
        )

    @property
    def status_text(self) -> str:
        """Empty while a tracker works or none has been asked yet, else the latest failure."""
        trackers = [tracker for _, tracker in self._states()]
        if any(_last_try_worked(t) for t in trackers):
            return ""
        failed = [t for t in trackers if t.failed_at is not None]
        if not failed:
            return ""
        return f"Tracker: {max(failed, key=lambda t: t.failed_at or 0.0).message}"

    @property
    def seeds(self) -> int | None:
        return max((t.seeds for _, t in self._states() if t.seeds is not None), default=None)

    @property
    def peers(self) -> int | None:
        return max((t.peers for _, t in self._states() if t.peers is not None), default=None)

    def _states(self) -> list[tuple[AnnounceList, TrackerState]]:
        return [(swarm.schedule, tracker) for swarm in self._swarms for tracker in swarm.schedule.trackers()]

    def _rows(self) -> list[list[tuple[AnnounceList, TrackerState]]]:
        """Each tracker URL with its state under each id, in the first id's order."""
        by_url: dict[str, list[tuple[AnnounceList, TrackerState]]] = {}
        for schedule, tracker in self._states():
            by_url.setdefault(tracker.url, []).append((schedule, tracker))
        return list(by_url.values())

    async def _run(self, swarm: _Swarm, delay: float) -> None:
        if delay > 0:
            await _woken_or_after(swarm.wake, delay)
        schedule = swarm.schedule
        while True:
            await self._sleep_until_due(swarm)
            if schedule.announce_at() <= self._clock():
                await self._round(swarm)
            for tracker in schedule.scrapes_due(self._clock()):
                await self._scrape(swarm, tracker)

    async def _sleep_until_due(self, swarm: _Swarm) -> None:
        while True:
            swarm.wake.clear()
            delay = swarm.schedule.due_at() - self._clock()
            if delay <= 0:
                return
            await _woken_or_after(swarm.wake, min(delay, 24 * 3600.0))

    async def _round(self, swarm: _Swarm) -> None:
        """BEP 12: ask the trackers tier by tier, in order, until one answers."""
        for tracker in swarm.schedule.begin_round(self._clock()):
            if await self._announce_one(swarm, tracker):
                return
        swarm.schedule.round_failed()

    async def _announce_one(self, swarm: _Swarm, tracker: TrackerState) -> bool:
        swarm.schedule.announcing(tracker)
        self._on_change()
        try:
            return await self._announce_to(swarm, tracker)
        finally:
            self._on_change()

    async def _announce_to(self, swarm: _Swarm, tracker: TrackerState) -> bool:
        schedule = swarm.schedule
        try:
            request = self._request(swarm.info_hash, schedule.event_for(tracker), tracker.tracker_id)
            response = await self._announce(tracker.url, request)
        except TrackerError as error:
            log.info("tracker %s: %s", tracker.url, error)
            schedule.failed(tracker, str(error), self._clock())
            return False
        except Exception:
            log.exception("announcing to %s failed", tracker.url)
            schedule.failed(tracker, "internal error", self._clock())
            return False
        schedule.succeeded(tracker, request, response, self._clock())
        self._deliver(list(response.peers))
        return True

    async def _scrape(self, swarm: _Swarm, tracker: TrackerState) -> None:
        """BEP 48: the swarm's counts, for a tracker whose announces leave them out."""
        scrapers: dict[str, Callable[[str, bytes], Awaitable[dict[bytes, ScrapeEntry]]]] = {
            "http": self._scrape_http, "https": self._scrape_http, "udp": self._scrape_udp,
        }
        scraper = scrapers.get(urlsplit(tracker.url).scheme.lower())
        entry = None
        try:
            if scraper is not None:
                entry = (await scraper(tracker.url, swarm.info_hash)).get(swarm.info_hash)
        except TrackerError as error:
            log.info("tracker %s: scrape failed: %s", tracker.url, error)
        except Exception:
            log.exception("scraping %s failed", tracker.url)
        swarm.schedule.scraped(tracker, entry, self._clock())
        self._on_change()

    async def _scrape_http(self, url: str, info_hash: bytes) -> dict[bytes, ScrapeEntry]:
        # One family's counts will do: a scrape adds no peers.
        shared = (self._network.http or {}).get(self._families(url)[0])
        client = self._own_http if shared is None else HttpTrackerClient(shared)
        return await client.scrape(url, [info_hash])

    async def _scrape_udp(self, url: str, info_hash: bytes) -> dict[bytes, ScrapeEntry]:
        return await self._udp_client(url, self._families(url)[0]).scrape([info_hash])

    async def _send_stopped(self, swarm: _Swarm, tracker: TrackerState) -> None:
        try:
            await self._announce(
                tracker.url, self._request(swarm.info_hash, AnnounceEvent.STOPPED, tracker.tracker_id)
            )
        except TrackerError as error:
            log.info("tracker %s: 'stopped' failed: %s", tracker.url, error)
        except Exception:
            log.exception("sending 'stopped' to %s failed", tracker.url)
        else:
            swarm.schedule.stopped(tracker)

    def _request(self, info_hash: bytes, event: AnnounceEvent, tracker_id: bytes | None) -> AnnounceRequest:
        uploaded, downloaded, left = self._stats()
        return AnnounceRequest(
            info_hash=info_hash,
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

    @staticmethod
    def _snapshot_of(row: list[tuple[AnnounceList, TrackerState]], now: float, wall: float) -> TrackerSnapshot:
        merged = merged_row([tracker for _, tracker in row])
        next_at = min((at for schedule, tracker in row if (at := schedule.next_announce(tracker)) is not None),
                      default=None)
        answered = merged.answered_at
        return TrackerSnapshot(
            url=merged.url,
            tier=merged.tier,
            status=merged.status,
            message=merged.message,
            seeds=merged.seeds,
            peers=merged.peers,
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


async def _woken_or_after(wake: asyncio.Event, delay: float) -> None:
    """Until `wake` is set or `delay` seconds pass. The timeout is entered before the wait is
    made, so a task cancelled at the loop's close leaves no never-awaited `Event.wait` behind."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay):
            await wake.wait()
