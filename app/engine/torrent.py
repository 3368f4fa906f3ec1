"""One torrent's life: checking, downloading, seeding; its peers, pieces and trackers.

The torrent owns the shared state its peers work on: the piece picker (what to request),
the piece buffers (blocks received but not yet verified), the disk (verify and write off
the loop), the choker (whom to serve) and the tracker manager (where peers come from).

What it needs from its session is declared in `TorrentHost`, nothing more. Its state says
where it stands (checking, downloading, seeding ...); a stopped torrent keeps that and adds
why it is stopped (a `StopReason`), as libtorrent keeps the paused flag apart. Every change
of either goes through `_change()`, which records it and emits one `StateChanged` event.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import random
import socket
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Hashable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from app.engine import events
from app.engine.bitfield import Bitfield
from app.engine.choker import ChokeCandidate, Choker
from app.engine.diagnosis import REACH_GRACE, Measurements, Reach, diagnose
from app.engine.errors import StorageError
from app.engine.labels import Labels
from app.engine.magnet import Magnet
from app.engine.hash_server import HashServer, LeafWork, leaf_answer, reject
from app.engine.metadata_fetch import MetadataFetch
from app.engine.metainfo import Metainfo, parse_info, parse_metainfo
from app.engine.metainfo_summary import MetainfoSummary
from app.engine.piece_layer_fetch import PieceLayerFetch, missing_layers
from app.engine.peer import MAX_UPLOAD_QUEUE, PeerConnection
from app.engine.peer_id import CLIENT_VERSION
from app.engine.piece_picker import Block, PiecePicker
from app.engine.snapshots import (
    FileSnapshot,
    TrackerSnapshot,
    PeerSnapshot,
    PieceState,
    StateChange,
    StopReason,
    TorrentDetails,
    TorrentSnapshot,
    TorrentState,
)
from app.engine.storage.disk import OpenFiles, Storage
from app.engine.storage.layout import Layout
from app.engine.storage.piece_verifier import verifier_for
from app.engine.store import ResumeRecord, stamps_or_none, trustworthy
from app.engine.super_seeding import SuperSeeder
from app.engine.torrent_options import SKIP, TorrentOptions, apply_options
from app.engine.tracker import compact
from app.engine.tracker.announce_list import new_tiers
from app.engine.tracker.manager import TrackerManager, TrackerNetwork
from app.engine.transport.utp_transport import UtpTransport
from app.engine.webseed import PeerQueue, WebSeed, WebSeedError, slow_pieces
from app.engine.wire import extension as ext
from app.engine.wire import messages as m
from app.engine.wire.fast import offered_fast_set

if TYPE_CHECKING:
    from app.engine.dht import DualStackDht
    from app.engine.heartbeat import Heartbeat
    from app.engine.rate_limit import Throttle

log = logging.getLogger(__name__)

RETRY_DELAYS = (5.0, 30.0, 120.0)  # after the 1st, 2nd, 3rd failed connection; then forget it
HASH_STRIKES = 2  # a peer that contributed to this many failed pieces is banned
FAILED_FLASH = 3.0  # seconds the UI shows a piece as hash-failed
READ_CACHE_BYTES = 32 * 1024 * 1024
DHT_SEARCH_INTERVAL = 30.0  # while we need peers (or metadata)
DHT_ANNOUNCE_INTERVAL = 15 * 60.0
CLIENT_NAME = "Piecemeal " + ".".join(map(str, CLIENT_VERSION))
CHOKED_LEAF_ANSWERS = 16  # BEP 52 leaf-hash answers per connection to a peer we choke (one per failed piece)
UNKNOWN_LEFT = 16 * 1024  # 'left' for trackers before the metadata is known: any non-zero value


def _packed_ip(host: str) -> bytes | None:
    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        return None


class TorrentConfig(Protocol):
    """The session settings a torrent reads."""

    @property
    def max_peers_per_torrent(self) -> int: ...
    @property
    def upload_slots(self) -> int: ...
    @property
    def max_unwritten(self) -> int: ...  # received bytes waiting for the disk
    @property
    def enable_pex(self) -> bool: ...


class TorrentHost(Protocol):
    """What a torrent needs from its session, nothing more (as PeerOwner is for a peer and
    libtorrent's torrent has its session_interface)."""

    @property
    def config(self) -> TorrentConfig: ...

    peer_id: bytes
    listen_port: int | None
    network: TrackerNetwork  # what each announce takes: port, HTTP client, sockets
    dht: DualStackDht | None
    executor: Executor  # disk I/O and hashing
    open_files: OpenFiles  # the session's descriptors, shared by every torrent's storage
    heartbeat: Heartbeat[Torrent]  # ticks a running torrent each second while it has work
    rng: random.Random  # the picker's and the choker's

    def throttle(self, reading_blocked: Callable[[], bool]) -> Throttle: ...  # speed limits
    def may_start(self, torrent: Torrent) -> bool: ...  # the queue: False, it waits
    async def room_to_write(self, torrent: Torrent, size: int) -> bool: ...  # the disk guard
    def can_connect(self) -> bool: ...  # connection limits
    def connect(self, torrent: Torrent, address: tuple[str, int]) -> None: ...
    def metadata_received(self, torrent: Torrent) -> None: ...  # a magnet's info dictionary
    def touched(self, torrent: Torrent) -> None: ...  # what it shows changed outside its events
    def emit(self, event: events.Event) -> None: ...


# The stops worth an event of their own kind (still one event: a StateChanged).
_STOP_EVENTS: dict[StopReason, type[events.StateChanged]] = {
    StopReason.SEEDING_GOAL: events.SeedingGoalReached,
    StopReason.ERROR: events.TorrentErrored,
}


@dataclass(slots=True)
class Dormant:
    """A restored torrent's .torrent bytes, parsed only when the torrent is needed: started,
    selected, asked for details (issue 19: 10,000 restored torrents, most of them idle)."""

    info_hash: bytes
    torrent_bytes: bytes
    summary: MetainfoSummary
    resume: ResumeRecord | None = None  # applied, once its files are looked at, by wake()
    parsed: Metainfo | None = None

    def metainfo(self) -> Metainfo:
        if self.parsed is None:
            self.parsed = parse_metainfo(self.torrent_bytes)
        return self.parsed

    def verified_bytes(self) -> int:
        """The bytes of the pieces its resume data claims (the last piece may be short)."""
        summary, resume = self.summary, self.resume
        if resume is None or resume.num_pieces != summary.num_pieces or len(resume.verified) != (resume.num_pieces + 7) // 8:
            return 0
        bits = int.from_bytes(resume.verified, "big") >> (8 * len(resume.verified) - summary.num_pieces)
        last_short = summary.num_pieces * summary.piece_length - summary.total_length
        return bits.bit_count() * summary.piece_length - (last_short if bits & 1 else 0)

    def standing(self) -> TorrentState:
        complete = self.verified_bytes() == self.summary.total_length
        return TorrentState.SEEDING if complete else TorrentState.DOWNLOADING

    def tracker_rows(self) -> tuple[TrackerSnapshot, ...]:
        return tuple(
            TrackerSnapshot(url, tier, "not contacted", "", None, None, None, None)
            for tier, urls in enumerate(self.summary.trackers) for url in urls
        )


# What a dormant torrent builds from its metainfo on first use (Torrent.__getattr__).
_BUILT_ON_WAKE = frozenset({"metainfo", "layout", "storage", "hash_server", "picker", "super_seeder", "_file_done"})


@dataclass(slots=True)
class _Candidate:
    """An address we may connect to, and how it went last time."""

    failures: int = 0
    not_before: float = 0.0
    utp: bool = False  # BEP 11: PEX flagged it 0x04, so it is dialed over uTP first


class Torrent:
    """Made from a .torrent (metainfo) or from a magnet link, whose metadata comes from peers."""

    def __init__(
        self, host: TorrentHost, metainfo: Metainfo | None, save_path: Path, *,
        added_on: float | None = None, magnet: Magnet | None = None, reason: StopReason | None = None,
        dormant: Dormant | None = None,
    ) -> None:
        self.host = host
        self.magnet = magnet
        self.info_hash = _first_id(metainfo, dormant, magnet)
        self.save_path = save_path
        self.added_on = added_on if added_on is not None else time.time()
        self._dormant = dormant  # restored and not needed yet: see wake()
        self.num_pieces = dormant.summary.num_pieces if dormant is not None else 0  # 0 until the metadata is known
        self.metadata = MetadataFetch(self.info_hash)
        self.layer_fetch: PieceLayerFetch | None = None  # BEP 52: a v2 magnet's piece layers, while fetched
        self._layers_done: asyncio.Future[None] | None = None
        self.choker = Choker(host.config.upload_slots, rng=host.rng)
        self.note = ""  # work beside the state, for the status line: moving the files
        self.labels = Labels()  # the user's category and tags
        self.peers: dict[PeerConnection, None] = {}
        self.candidates: dict[tuple[str, int], _Candidate] = {}
        self.connecting: set[tuple[str, int]] = set()
        self.banned: set[str] = set()
        self.strikes: dict[str, int] = {}
        self.checked = False
        self.check_progress = 0.0
        self.downloaded = 0  # payload received from peers that have gone (live peers add theirs)
        self.uploaded = 0
        self.active_seconds = 0.0
        self.seeding_seconds = 0.0  # what a seeding-time goal counts; kept across restarts
        self._buffers: dict[int, bytearray] = {}
        self._spare: list[bytearray] = []  # piece-sized buffers kept for reuse: no page faults
        self._unwritten = 0
        self._reading_paused = False
        self._failed_at: dict[int, float] = {}
        self._pieces_counted = 0  # grows with _file_done: part of what a snapshot shows
        self._shown: tuple[tuple[object, ...] | None, TorrentSnapshot] | None = None
        self._read_cache: OrderedDict[int, bytes] = OrderedDict()
        self._reads: dict[int, asyncio.Future[bytes]] = {}
        self._awaited: dict[int, asyncio.Future[None]] = {}  # pieces a stream waits for
        self._task: asyncio.Task[None] | None = None
        self._verifying: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._hashing_for: set[PeerConnection] = set()  # peers whose leaf hashes are being computed
        self._choked_leaf_answers: Counter[PeerConnection] = Counter()  # given while we choked them
        self._stopped = asyncio.Event()  # clear while stop() is closing things
        self._stopped.set()
        self._stopping: asyncio.Task[None] | None = None  # the last stop_soon(), kept from the GC
        self._next_dht = 0.0
        self.first_announce_at = 0.0  # monotonic; a restored session spreads its announces (issue 19)
        self._web_seeds: dict[str, WebSeed] = {}  # by URL, while running with metadata
        self.options = TorrentOptions()
        self.choose_files = False  # a magnet: stop when the metadata arrives, for the user to pick files
        self.throttle = host.throttle(lambda: self._reading_paused)
        if metainfo is not None:
            self._set_metainfo(metainfo)
        elif dormant is None:
            self.metainfo: Metainfo = None  # type: ignore[assignment]  # set by _set_metainfo
            self._file_done: list[int] = []
        if dormant is None:
            self.trackers = self._make_trackers()
        self.last_change = StateChange(self._standing(), reason)  # from now on by _change() only

    def __getattr__(self, name: str) -> Any:
        """Called only for what is not built yet: a dormant torrent's parts, its tracker manager."""
        if name in _BUILT_ON_WAKE and self.__dict__.get("_dormant") is not None:
            self.wake()
            return getattr(self, name)
        if name == "trackers" and "_dormant" in self.__dict__:
            self.trackers: TrackerManager = self._make_trackers()
            return self.trackers
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def dormant(self) -> bool:
        return self._dormant is not None

    def dormant_paths(self) -> list[Path]:
        """The files of a dormant torrent (its .torrent bytes are parsed for them)."""
        assert self._dormant is not None
        return [self.save_path.joinpath(*f.path) for f in self._dormant.metainfo().files]

    def wake(self) -> None:
        """Build what a dormant torrent was restored without; its files are looked at here."""
        if self._dormant is not None:
            self.wake_with(stamps_or_none(self.dormant_paths()))

    def wake_with(self, stamps: tuple[tuple[int, int], ...] | None) -> None:
        """wake() with the files' stamps looked at by the caller (a batch, in a thread): its
        resume data is trusted, as at any start-up, only if they are as recorded."""
        dormant = self._dormant
        if dormant is None:
            return
        metainfo = dormant.metainfo()  # a MetainfoError leaves it dormant
        self._dormant = None
        self._set_metainfo(metainfo)
        if dormant.resume is not None:
            trusted = stamps is not None and trustworthy(dormant.resume, stamps, self.num_pieces)
            self.restore(dormant.resume, trusted=trusted)
        self._stand(self._standing())  # to be checked, if its files changed since its resume data
        self.host.touched(self)  # its row is now built from the torrent itself

    def _set_metainfo(self, metainfo: Metainfo) -> None:
        self.metainfo = metainfo
        self.num_pieces = metainfo.num_pieces
        self.layout = Layout(metainfo.piece_length, [f.length for f in metainfo.files])
        self.storage = Storage(
            metainfo, self.save_path, self.host.executor, verifier=verifier_for(metainfo),
            open_files=self.host.open_files,
        )
        self.hash_server = HashServer(metainfo.piece_layers, metainfo.piece_length, metainfo.files)
        self.picker = PiecePicker(self.num_pieces, metainfo.piece_length, metainfo.total_length, rng=self.host.rng)
        self._file_done = [0] * len(metainfo.files)
        self.super_seeder = SuperSeeder(self.num_pieces)
        apply_options(self)

    @property
    def has_metadata(self) -> bool:
        return self.num_pieces > 0

    @property
    def private(self) -> bool:
        """BEP 27: private torrents get peers from their trackers only (no DHT, PEX, LSD)."""
        if self._dormant is not None:
            return self._dormant.summary.private
        return self.has_metadata and self.metainfo.private

    @property
    def info_hash_v2(self) -> bytes | None:
        """BEP 52: the SHA-256 info-hash of a v2 or hybrid torrent."""
        if self._dormant is not None:
            return self._dormant.summary.info_hash_v2
        return self.metainfo.info_hash_v2 if self.has_metadata else None

    @property
    def name(self) -> str:
        if self._dormant is not None:
            return self._dormant.summary.name
        if self.has_metadata:
            return self.metainfo.name
        return (self.magnet.display_name if self.magnet else "") or self.info_hash.hex()

    # the state: where it stands, and why it is stopped (one path, one event per change)

    @property
    def state(self) -> TorrentState:
        return self.last_change.state

    @property
    def reason(self) -> StopReason | None:
        """Why it is stopped; None while it runs (or is about to)."""
        return self.last_change.reason

    @property
    def paused(self) -> bool:
        return self.last_change.paused

    @property
    def error(self) -> str:
        return self.last_change.message

    def _change(self, change: StateChange, event: type[events.StateChanged] = events.StateChanged) -> None:
        """Every state change comes here: it is recorded with its reason and told once."""
        if change == self.last_change:
            return
        self.last_change = change
        log.debug("torrent %s: %s%s", self.name, change.state, f" ({change.reason})" if change.reason else "")
        self.host.emit(event(self.info_hash.hex(), self.name, change.state, change.reason, change.message))

    def _stand(self, state: TorrentState, event: type[events.StateChanged] = events.StateChanged) -> None:
        self._change(replace(self.last_change, state=state), event)

    def _stop_for(self, reason: StopReason, message: str = "") -> None:
        """A stopped torrent keeps the first reason it was given, unless the user pauses it."""
        if self.reason is None or reason == StopReason.USER:
            self._change(StateChange(self.state, reason, message), _STOP_EVENTS.get(reason, events.StateChanged))

    def _standing(self) -> TorrentState:
        """Where a start begins: the metadata, the check, or what the check found."""
        if not self.has_metadata:
            return TorrentState.METADATA
        if self._dormant is not None and self._dormant.resume is not None:
            return self._dormant.standing()  # as its resume data says, until wake() looks at the files
        if not self.checked:
            return TorrentState.CHECKING
        return TorrentState.SEEDING if self.picker.is_complete() else TorrentState.DOWNLOADING

    # commands

    def start(self) -> None:
        if self._task is not None:
            return
        self.wake()
        if not self.host.may_start(self):
            self._change(StateChange(self.state, StopReason.QUEUED))  # started when its turn comes
            return
        for candidate in self.candidates.values():
            candidate.failures, candidate.not_before = 0, 0.0  # our stop was not their failure
        self._change(StateChange(self._standing()))
        self._task = asyncio.ensure_future(self._run_after_stop())

    async def _run_after_stop(self) -> None:
        await self._stopped.wait()  # a resume right after a pause waits for the files to close
        await self._run()

    async def stop(self, reason: StopReason = StopReason.USER) -> None:
        """Disconnect, tell the trackers, settle pending writes, close the files; say why."""
        self._stop_for(reason)
        await self._finish_stop(self._take_run())

    async def close(self) -> None:
        """stop() for good (removed, or the session closes): no state change."""
        await self._finish_stop(self._take_run())

    def stop_soon(self, reason: StopReason, message: str = "") -> asyncio.Task[None]:
        """stop() for a caller that cannot await it (the torrent's own run, one of its writes).

        The torrent counts as stopped at once: a start() right after begins a new run, which
        waits until the files are closed.
        """
        self._stop_for(reason, message)
        stopping = self._stopping = asyncio.ensure_future(self._finish_stop(self._take_run()))
        stopping.add_done_callback(self._background_done)  # nobody may await it: log its failure
        return stopping

    @asynccontextmanager
    async def suspended(self) -> AsyncIterator[None]:
        """Stopped for a moment (a recheck, files changing place), then started again if it
        ran: no state change, the user did not ask for one. An error meanwhile keeps it stopped."""
        running = self._task is not None
        await self._finish_stop(self._take_run())
        try:
            yield
        finally:
            if running and self.reason is None:
                self.start()

    def _take_run(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        self._stopped.clear()
        return task

    async def _finish_stop(self, task: asyncio.Task[None] | None) -> None:
        try:
            await self._shut_down(task)
        finally:
            self._stopped.set()

    async def _shut_down(self, task: asyncio.Task[None] | None) -> None:
        if self._dormant is not None:
            return  # it never ran (start() wakes it): nothing is open
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for peer in list(self.peers):
            peer.close("torrent stopped")
        await self._stop_web_seeds()
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*self._verifying, *self._background, return_exceptions=True)
        await self.trackers.stop()
        if self.has_metadata:
            try:
                await self.storage.flush()
            except StorageError as exc:
                log.warning("torrent %s: %s", self.name, exc)
            await self.storage.close()
        for piece, buffer in self._buffers.items():
            self.picker.piece_failed(piece)  # its received blocks go with the buffer: all again
            self._unwritten -= len(buffer)
        self._buffers.clear()
        self._spare.clear()
        self._read_cache.clear()

    async def recheck(self) -> None:
        if not self.has_metadata:
            return
        async with self.suspended():
            self.picker = PiecePicker(
                self.num_pieces, self.metainfo.piece_length, self.metainfo.total_length, rng=self.host.rng
            )
            self._file_done = [0] * len(self.metainfo.files)
            apply_options(self)
            self.checked = False
            self._stand(TorrentState.CHECKING)

    def relocate(self, storage: Storage | None, save_path: Path) -> None:
        """From now on the files are in `save_path` (copied there by the caller), reached
        through `storage` (None: a magnet without metadata has no files yet)."""
        self.save_path = save_path
        if storage is not None:
            self.storage = storage

    def add_peers(self, addresses: list[tuple[str, int]], *, speak_utp: Collection[tuple[str, int]] = ()) -> None:
        """Peers to dial; those in `speak_utp` are known to take uTP (PEX said so)."""
        spoken = self.host.network.sockets.families  # bound to one family: the other is unreachable
        for address in addresses:
            family = compact.address_family(address[0])
            if family is not None and family not in spoken:
                continue
            if address[0] not in self.banned:
                candidate = self.candidates.setdefault(address, _Candidate())
                candidate.utp = candidate.utp or address in speak_utp
        self.host.heartbeat.wake(self)
        if self.accepts_peers:
            self._connect_more(time.monotonic())

    # resume data (DESIGN: a piece is claimed only after its data is written)

    def resume_state(self) -> ResumeRecord:
        """Verified pieces and counters right now, without file stamps: take it BEFORE flushing
        and stamping the files, so that it claims nothing the stamps do not cover."""
        return ResumeRecord(
            self.info_hash, self.picker.have.to_bytes(), self.num_pieces, (), self.total_downloaded,
            self.total_uploaded, self.active_seconds, 0.0, self.seeding_seconds,
        )

    def file_paths(self) -> list[Path]:
        files = self.metainfo.files if self.has_metadata else ()
        return [self.save_path.joinpath(*f.path) for f in files]

    def restore(self, resume: ResumeRecord, trusted: bool) -> None:
        """Counters from resume data, and the verified pieces when the caller found them
        trustworthy (files unchanged since): then nothing is hashed at start."""
        self.downloaded, self.uploaded = resume.downloaded, resume.uploaded
        self.active_seconds, self.seeding_seconds = resume.active_seconds, resume.seeding_seconds
        if self._dormant is not None:
            self._dormant.resume = resume  # for wake(), which looks at the files first
            self._stand(self._standing())
        elif trusted:
            for piece in Bitfield.from_bytes(resume.verified, self.num_pieces):
                self._mark_verified(piece)
            self.checked = True
            self._stand(self._standing())

    # the run loop

    async def _run(self) -> None:
        try:
            if not self.trackers.fresh:
                # A stopped manager stays stopped: each later run announces with a new one. The
                # first run uses the one made with the torrent (10,000 restored: one each, issue 19).
                self.trackers = self._make_trackers()
            if not self.has_metadata:
                self.trackers.start()  # a magnet needs peers before it knows what it holds
                await self._fetch_metadata()
                self.trackers.add_info_hashes(self.swarm_ids)  # a hybrid known by one id until now
                if self.choose_files:
                    self.stop_soon(StopReason.CHOOSE_FILES)
                    return
            await self._check()
            if not self.trackers.started:
                # After the check, so 'left' is true from the first announce.
                self.trackers.start(self.first_announce_at - time.monotonic())
            await self._tick_until(asyncio.get_running_loop().create_future())
        except StorageError as exc:
            self._fail(str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a task boundary: log it, show it, keep the session alive
            log.exception("torrent %s failed", self.name)
            self._fail(f"internal error: {exc}")

    async def _tick_until(self, done: asyncio.Future[object]) -> None:
        """Ticked by the session's heartbeat until `done`: each second while it has work."""
        self.host.heartbeat.join(self)
        try:
            await asyncio.wait([done])
        finally:
            self.host.heartbeat.leave(self)

    async def _fetch_metadata(self) -> None:
        """BEP 9: ask peers for the info dictionary; the same connections then go on with its pieces."""
        self._connect_more(time.monotonic())
        await self._tick_until(self.metadata.done)
        raw_info = self.metadata.done.result()
        trackers = tuple((url,) for url in self.magnet.trackers) if self.magnet else ()
        web_seeds = self.magnet.web_seeds if self.magnet else ()
        metainfo = parse_info(raw_info, trackers=trackers, url_list=web_seeds)
        self._set_metainfo(await self._fetch_piece_layers(metainfo))
        for peer in list(self.peers):
            peer.metadata_known()  # what each said of its pieces meanwhile now counts
        self.host.metadata_received(self)

    async def _fetch_piece_layers(self, metainfo: Metainfo) -> Metainfo:
        """BEP 52: a v2-only torrent's pieces cannot be checked without the piece layers, which
        a magnet link does not bring: ask peers for them before any piece is downloaded."""
        missing = missing_layers(metainfo)
        if not missing:
            return metainfo
        self.layer_fetch = PieceLayerFetch(missing, metainfo.piece_length)
        self._layers_done = asyncio.get_running_loop().create_future()
        await self._tick_until(self._layers_done)
        layers = {**metainfo.piece_layers, **self.layer_fetch.layers()}
        self.layer_fetch = None
        return replace(metainfo, piece_layers=layers)

    def hash_request(self, peer: PeerConnection, request: m.HashRequest) -> m.Hashes | m.HashReject | None:
        """The answer, or None when it comes later: hashes below the piece layer are computed
        from the data, read and hashed off the loop (BEP 52)."""
        if not self.has_metadata:
            return reject(request)  # nothing to answer from yet
        answer = self.hash_server.answer(request)
        if not isinstance(answer, LeafWork):
            return answer
        if not self._may_hash_leaves(peer, answer):
            return reject(request)
        if peer.am_choking:
            self._choked_leaf_answers[peer] += 1
        self._hashing_for.add(peer)
        self._in_background(self._answer_from_data(peer, answer))
        return None

    def _may_hash_leaves(self, peer: PeerConnection, work: LeafWork) -> bool:
        """Leaf hashes cost a read and a hash of the data, as serving it does: one request at a
        time per peer, only from pieces we have. libtorrent asks for a failed piece's leaves once,
        whether we choke it or not, and never again; BEP 52: "Clients may impose a separate rate
        limit on hash requests received from choked peers": a peer we choke gets one piece's
        leaves per request, CHOKED_LEAF_ANSWERS times per connection."""
        have = self.picker.have
        if peer in self._hashing_for or not all(piece in have for piece in work.pieces):
            return False
        if not peer.am_choking:
            return True
        return len(work.pieces) <= 1 and self._choked_leaf_answers[peer] < CHOKED_LEAF_ANSWERS

    async def _answer_from_data(self, peer: PeerConnection, work: LeafWork) -> None:
        try:
            data = [await self.read_block(piece, 0, self.metainfo.piece_size(piece)) for piece in work.pieces]
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self.host.executor, leaf_answer, work, data)
        except StorageError as exc:
            log.info("torrent %s: hashes for a peer: %s", self.name, exc)
            answer = reject(work.request)
        finally:
            self._hashing_for.discard(peer)
        if peer in self.peers:
            peer.send(answer)

    def hashes_received(self, peer: PeerConnection, message: m.Hashes) -> None:
        if self.layer_fetch is not None:
            self.layer_fetch.received(peer, message)
            self._request_layers(time.monotonic())

    def hash_rejected(self, peer: PeerConnection, message: m.HashReject) -> None:
        if self.layer_fetch is not None:
            self.layer_fetch.rejected(peer, message)
            self._request_layers(time.monotonic())

    def _request_layers(self, now: float) -> None:
        if self.layer_fetch is None:
            return
        if self.layer_fetch.done and self._layers_done is not None and not self._layers_done.done():
            self._layers_done.set_result(None)
        for peer, request in self.layer_fetch.requests(list(self.peers), now):
            peer.send(request)

    async def _check(self) -> None:
        await self.storage.open()
        if not self.checked:
            self._stand(TorrentState.CHECKING)
            self.check_progress = 0.0
            verified = await self.storage.check(progress=self._on_check_progress)
            for piece in verified:
                self._mark_verified(piece)
            self.checked = True
        self._stand(self._standing())
        self._peers_after_check()
        self._connect_more(time.monotonic())

    def _on_check_progress(self, done: int, total: int) -> None:
        self.check_progress = done / total if total else 1.0

    def count_time(self, elapsed: float) -> None:
        self.active_seconds += elapsed
        if self.state == TorrentState.SEEDING:
            self.seeding_seconds += elapsed

    def tick(self, now: float, elapsed: float) -> None:
        for peer in list(self.peers):
            peer.tick(elapsed)  # rates, pipeline, and the peer's own idle/snub/keep-alive clock
        if self.choker.due(now):
            self._rechoke(now)
        self._connect_more(now)
        self._send_pex(now)
        self._ask_dht(now)
        self._tend_web_seeds(now, elapsed)
        if not self.has_metadata:
            self._request_metadata(now)
            self._request_layers(now)
        self._failed_at = {p: t for p, t in self._failed_at.items() if now - t < FAILED_FLASH}

    def sleeps_until(self, now: float) -> float | None:
        """When the tick next has work for a torrent with nothing going on: its DHT announce or
        a peer to dial again (issue 19: 10,000 idle seeds are not ticked). None: it has work
        now (peers, dials, web seeds, a metadata fetch, a failed piece on show)."""
        busy = self.peers or self.connecting or self._web_seeds or self._failed_at or self._buffers
        if busy or not self.has_metadata or self.web_seeds or self.metainfo.http_seeds:
            return None
        retries = [candidate.not_before for candidate in self.candidates.values()]
        if any(at <= now for at in retries):
            return None
        dht = math.inf if self.host.dht is None or self.private else max(self._next_dht, self.first_announce_at)
        return min([dht, *retries])

    def _connect_more(self, now: float) -> None:
        limit = self.host.config.max_peers_per_torrent
        for address, candidate in list(self.candidates.items()):
            if len(self.peers) + len(self.connecting) >= limit or not self.host.can_connect():
                return
            if candidate.not_before > now or address in self.connecting or self._connected_to(address):
                continue
            self.connecting.add(address)
            self.host.connect(self, address)

    def speaks_utp(self, address: tuple[str, int]) -> bool:
        candidate = self.candidates.get(address)
        return candidate is not None and candidate.utp

    def _connected_to(self, address: tuple[str, int]) -> bool:
        return any(p.address == address for p in self.peers)

    def connect_failed(self, address: tuple[str, int], reason: str) -> None:
        self.connecting.discard(address)
        candidate = self.candidates.get(address)
        if candidate is None:
            return
        candidate.failures += 1
        if candidate.failures > len(RETRY_DELAYS):
            del self.candidates[address]
        else:
            candidate.not_before = time.monotonic() + RETRY_DELAYS[candidate.failures - 1]

    def _fail(self, message: str) -> None:
        """Stop on an error; resume() tries again, keeping the verified pieces."""
        log.warning("torrent %s: %s", self.name, message)
        self._stop_for(StopReason.ERROR, message)
        for peer in list(self.peers):
            peer.close("torrent stopped by an error")
        if self._task is not None:  # else it is stopping already: one shutdown at a time
            self.stop_soon(StopReason.ERROR, message)

    # PeerOwner: called by our peers

    def peer_ready(self, peer: PeerConnection) -> None:
        self.host.heartbeat.wake(self)
        self.connecting.discard(peer.address)
        if peer.address[0] in self.banned:
            peer.close("banned for sending bad data")
            return
        if len(self.peers) >= self.host.config.max_peers_per_torrent:
            peer.close("too many peers for this torrent")
            return
        if any(other.remote_id == peer.remote_id for other in self.peers):
            peer.close("already connected to this peer")  # we dialled each other at once
            return
        self.peers[peer] = None
        peer.throttle = self.throttle
        if self.super_seeding:
            self._show(peer, self.super_seeder.reveal(peer, peer.pieces, self.picker.availability))
        if not peer.incoming and peer.address in self.candidates:
            self.candidates[peer.address].failures = 0
        if self.choker_has_room():
            self._rechoke(time.monotonic())

    def peer_closed(self, peer: PeerConnection, reason: str) -> None:
        if peer not in self.peers:
            return
        del self.peers[peer]
        self._choked_leaf_answers.pop(peer, None)
        log.debug("peer %s left: %s", peer.address_text, reason)
        self.downloaded += peer.down.total
        self.uploaded += peer.up.total
        self.metadata.peer_gone(peer)
        if self.layer_fetch is not None:
            self.layer_fetch.peer_gone(peer)
        if self.has_metadata and peer.pieces is not None:
            self.picker.peer_left(peer.pieces)
        if self.has_metadata:
            self.picker.peer_gone(peer)
            self.super_seeder.peer_gone(peer)
        if not peer.incoming and peer.address in self.candidates:
            self.connect_failed(peer.address, reason)

    def our_bitfield(self) -> Bitfield | None:
        """What a new peer hears we have: nothing while super-seeding (BEP 16), `have`s follow."""
        if not self.has_metadata:
            return None
        return Bitfield(self.num_pieces) if self.super_seeding else self.picker.have

    @property
    def super_seeding(self) -> bool:
        """BEP 16 applies to a seed only: while downloading, the option waits."""
        return self.options.super_seeding and self.has_metadata and self.state == TorrentState.SEEDING

    def _show(self, peer: PeerConnection, piece: int | None) -> None:
        if piece is not None and not peer.closed:
            peer.have(piece)

    def stop_super_seeding(self) -> None:
        """The option was switched off: every peer hears of every piece it lacks."""
        self.super_seeder = SuperSeeder(self.num_pieces)
        if self.has_metadata and self.state == TorrentState.SEEDING:
            self._peers_after_check()

    def our_extension_handshake(self, peer: PeerConnection) -> ext.ExtensionHandshake:
        names = [ext.UT_METADATA] if self.private else [ext.UT_METADATA, ext.UT_PEX]
        return ext.ExtensionHandshake(
            m={name: ext.LOCAL_EXTENSION_IDS[name] for name in names},
            v=CLIENT_NAME,
            p=self.host.listen_port,
            reqq=MAX_UPLOAD_QUEUE,
            yourip=_packed_ip(peer.address[0]),
            metadata_size=len(self.metainfo.raw_info) if self.has_metadata else None,
        )

    def extension_handshake(self, peer: PeerConnection, handshake: ext.ExtensionHandshake) -> None:
        if not self.has_metadata and handshake.metadata_size and handshake.ext_id(ext.UT_METADATA):
            self.metadata.offered(peer, handshake.metadata_size)
            self._request_metadata(time.monotonic())

    def metadata_message(self, peer: PeerConnection, message: ext.MetadataMessage) -> None:
        if isinstance(message, ext.MetadataRequest):
            raw = self.metainfo.raw_info if self.has_metadata else None
            peer.send_extended(ext.UT_METADATA, ext.encode_metadata_message(ext.metadata_reply(raw, message)))
        elif not self.has_metadata:
            self.metadata.received(peer, message)
            self._request_metadata(time.monotonic())

    def _request_metadata(self, now: float) -> None:
        for peer, piece in self.metadata.requests(now):
            peer.send_extended(ext.UT_METADATA, ext.encode_metadata_message(ext.MetadataRequest(piece)))

    def pex_received(self, peer: PeerConnection, message: ext.PexMessage) -> None:
        if self.private or not self.host.config.enable_pex:
            return
        pairs = ((message.added, message.added_flags), (message.added6, message.added6_flags))
        flagged = [entry for peers, flags in pairs for entry in zip(peers, flags.ljust(len(peers), b"\0"))]
        utp = {address for address, flags in flagged if flags & ext.PEX_UTP}
        self.add_peers([address for address, _ in flagged], speak_utp=utp)

    def dht_port(self, peer: PeerConnection, port: int) -> None:
        if self.host.dht is not None and not self.private:
            self.host.dht.add_node(peer.address[0], port)

    def _send_pex(self, now: float) -> None:
        """BEP 11: tell each peer which peers we are connected to, at most once a minute."""
        if self.private or not self.host.config.enable_pex:
            return
        known = {p.listen_address for p in self.peers if p.listen_address is not None}
        flags = {p.listen_address: _pex_flags(p) for p in self.peers if p.listen_address is not None}
        for peer in self.peers:
            if peer.remote_extensions is None or not peer.remote_extensions.ext_id(ext.UT_PEX):
                continue
            message = peer.pex.diff(known - {peer.listen_address}, now, flags)
            if message is not None:
                peer.send_extended(ext.UT_PEX, ext.encode_pex(message))

    def _ask_dht(self, now: float) -> None:
        dht = self.host.dht
        if dht is None or self.private or now < max(self._next_dht, self.first_announce_at):
            return
        searching = not self.has_metadata or len(self.peers) < 5
        self._next_dht = now + (DHT_SEARCH_INTERVAL if searching else DHT_ANNOUNCE_INTERVAL)
        self._in_background(self._dht_announce(dht))

    async def _dht_announce(self, dht: DualStackDht) -> None:
        port = self.host.listen_port or 0
        for info_hash in self.swarm_ids:
            self.add_peers(await dht.announce(info_hash, port))

    @property
    def swarm_ids(self) -> tuple[bytes, ...]:
        """BEP 52: a hybrid torrent's swarm is found under both ids, the v2 one truncated to 20
        bytes; a v2-only torrent's one id is already the truncated one. Read from a dormant
        torrent's summary, so counting a restored session's announces parses nothing."""
        v2 = self.info_hash_v2 if self.has_metadata or self.magnet is None else self.magnet.info_hash_v2
        if v2 is None or v2[:20] == self.info_hash:
            return (self.info_hash,)
        return (self.info_hash, v2[:20])

    def _in_background(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("torrent %s: %s", self.name, task.exception())

    def peer_pieces_changed(self, peer: PeerConnection, new: Bitfield | int) -> None:
        if isinstance(new, int):
            self.picker.peer_has(new)
            wanted = new not in self.picker.have and self.state == TorrentState.DOWNLOADING
            if wanted and not peer.am_interested:
                peer.set_interested(self.picker.interesting(peer.pieces))  # type: ignore[arg-type]
            if self.super_seeding:
                views = {p: p.pieces for p in self.peers}
                for holder, piece in self.super_seeder.peer_has(peer, new, views, self.picker.availability):
                    self._show(holder, piece)  # type: ignore[arg-type]
            return
        self.picker.peer_joined(new)
        self._judge_peer(peer)
        self._offer_allowed_fast(peer)
        if self.super_seeding:
            self._show(peer, self.super_seeder.view_known(peer, new, self.picker.availability))

    def peer_pieces_replaced(self, peer: PeerConnection, old: Bitfield, new: Bitfield) -> None:
        """The peer announced all its pieces again (aria2 does, instead of many `have`s)."""
        self.picker.peer_left(old)
        self.picker.peer_joined(new)
        self._judge_peer(peer)

    def _judge_peer(self, peer: PeerConnection) -> None:
        """Part with a seed when we seed too; else be interested if it has pieces we want."""
        if self.state == TorrentState.SEEDING and peer.is_seed:
            peer.close("both sides are seeds")
        elif peer.pieces is not None:
            peer.set_interested(self.state == TorrentState.DOWNLOADING and self.picker.interesting(peer.pieces))

    def _offer_allowed_fast(self, peer: PeerConnection) -> None:
        """BEP 6: a peer may fetch a few pieces before its first unchoke (not those it has)."""
        if not peer.fast or peer.closed or peer.pieces is None or peer.is_seed or self.super_seeding:
            return  # BEP 16: a super-seed offers no piece but the one it shows
        pieces = offered_fast_set(peer.address[0], self.info_hash, self.num_pieces)
        lacking = tuple(piece for piece in pieces if piece not in peer.pieces)
        if lacking:
            peer.offer_allowed_fast(lacking, self.metainfo.piece_length)

    def _peers_after_check(self) -> None:
        """Peers kept from a magnet's metadata phase heard have-none or nothing from us: tell
        them what the check found (BEP 3 `have`), then be interested or part as seeds."""
        have = list(self.picker.have)
        for peer in list(self.peers):
            for piece in have:
                if peer.pieces is None or piece not in peer.pieces:
                    peer.have(piece)
            self._judge_peer(peer)

    def request_blocks(self, peer: PeerConnection, count: int) -> list[Block]:
        if self.state != TorrentState.DOWNLOADING or peer.pieces is None or self._reading_paused:
            return []
        if self.picker.sequential:  # a player's order beats BEP 6's allowed pieces and hints
            return [] if peer.peer_choking else self.picker.pick(peer, peer.pieces, count)
        if peer.peer_choking:  # BEP 6: it serves us its allowed fast pieces, nothing else
            return self.picker.pick(peer, peer.pieces, count, prefer=peer.allowed_fast, only=True)
        return self.picker.pick(peer, peer.pieces, count, prefer=peer.suggested)

    def block_received(self, peer: PeerConnection | WebSeed, block: Block, data: memoryview) -> None:
        accepted, others, complete = self.picker.block_received(peer, block)
        if not accepted:
            return  # a late duplicate from the endgame, or a block nobody asked for
        buffer = self._buffers.get(block.piece)
        if buffer is None:
            buffer = self._buffers[block.piece] = self._new_buffer(block.piece)
            self._unwritten += len(buffer)
            self._apply_backpressure()  # only a new buffer adds to what waits for the disk
        buffer[block.offset : block.offset + block.length] = data
        if others:  # endgame or a web seed's take-over: someone else was fetching it too
            self._cancel_others(peer, block, others)
        if complete:  # every block is in: hash it
            del self._buffers[block.piece]
            task = asyncio.ensure_future(self._verify(block.piece, buffer))
            self._verifying.add(task)
            task.add_done_callback(self._verifying.discard)

    def _cancel_others(self, sender: PeerConnection | WebSeed, block: Block, others: list[Hashable]) -> None:
        """The first copy of a block won: the peers' requests for it are cancelled (BEP 3), a
        web seed skips it or drops its bytes."""
        for other in others:
            assert isinstance(other, (PeerConnection, WebSeed))
            other.cancel(block)
        if isinstance(sender, WebSeed) and any(isinstance(other, PeerConnection) for other in others):
            sender.won += 1

    def blocks_returned(self, peer: PeerConnection | WebSeed, blocks: list[Block]) -> None:
        for block in blocks:
            self.picker.abort(peer, block)

    def interest_changed(self, peer: PeerConnection) -> None:
        if peer.peer_interested and self.choker_has_room():
            self._rechoke(time.monotonic())
        elif not peer.peer_interested and not peer.am_choking:
            self._rechoke(time.monotonic())

    def valid_request(self, request: m.Request) -> bool:
        return (
            self.has_metadata
            and request.index in self.picker.have
            and request.begin + request.length <= self.metainfo.piece_size(request.index)
        )

    async def read_block(self, index: int, begin: int, length: int) -> memoryview:
        """Blocks are served from whole pieces read once and kept in a small cache."""
        piece = self._read_cache.get(index)
        if piece is None:
            piece = await asyncio.shield(self._read_piece(index))  # others may wait for it too
        else:
            self._read_cache.move_to_end(index)
        return memoryview(piece)[begin : begin + length]

    def cached_block(self, index: int, begin: int, length: int) -> memoryview | None:
        piece = self._read_cache.get(index)
        return None if piece is None else memoryview(piece)[begin : begin + length]

    def suggestions(self, peer: PeerConnection) -> list[int]:
        """Pieces in the read cache the peer lacks, the latest read first: serving them costs
        no disk read (BEP 6 suggest, as libtorrent's suggest_read_cache)."""
        if self.super_seeding:
            return []  # BEP 16: a suggestion would show pieces the peer was not meant to see
        lacking = peer.pieces
        return [piece for piece in reversed(self._read_cache) if lacking is None or piece not in lacking]

    def prefetch(self, index: int) -> None:
        if index not in self._read_cache:
            self._read_piece(index)  # errors surface in read_block

    # verification and writing

    async def _verify(self, piece: int, buffer: bytearray) -> None:
        run = self._task
        try:
            if not await self.host.room_to_write(self, len(buffer)):
                self.picker.piece_failed(piece)  # not written: fetched again once there is room
                return
            ok = await self.storage.verify_and_write(piece, buffer)
        except StorageError as exc:
            self.picker.piece_failed(piece)
            self._write_failed(run, str(exc))
            return
        except Exception as exc:  # a task boundary: no piece may stay in WRITING
            log.exception("torrent %s: writing piece %d failed", self.name, piece)
            self.picker.piece_failed(piece)
            self._write_failed(run, f"internal error: {exc}")
            return
        finally:
            self._unwritten -= len(buffer)
            self._keep_spare(buffer)
            self._apply_backpressure()
        if ok:
            self._piece_verified(piece)
        else:
            self._piece_failed(piece)

    def _write_failed(self, run: asyncio.Task[None] | None, message: str) -> None:
        """A write fails the run it was part of, not a later one: a write still pending when
        the torrent stopped may fail after the user has started it again (disk full, then room)."""
        if run is self._task:
            self._fail(message)
        else:
            log.info("torrent %s: a write of the previous run failed: %s", self.name, message)

    def _keep_spare(self, buffer: bytearray) -> None:
        """Keep as many piece buffers as may wait for the disk: a new one costs a page fault per 4 KiB
        (17% of the loop thread in a 1 GiB download when only 16 were kept)."""
        piece_length = self.metainfo.piece_length
        if len(buffer) == piece_length and len(self._spare) * piece_length < self.host.config.max_unwritten:
            self._spare.append(buffer)

    def _new_buffer(self, piece: int) -> bytearray:
        size = self.metainfo.piece_size(piece)
        if size == self.metainfo.piece_length and self._spare:
            return self._spare.pop()
        return bytearray(size)

    def _mark_verified(self, piece: int) -> None:
        self.picker.mark_have(piece)
        self._count_file_bytes(piece)

    def _count_file_bytes(self, piece: int) -> None:
        self._pieces_counted += 1
        for span in self.layout.piece_spans(piece):
            self._file_done[span.file_index] += span.length

    async def piece_ready(self, piece: int) -> None:
        """Return once `piece` is verified (a media player streaming the file waits here)."""
        if piece in self.picker.have:
            return
        waiter = self._awaited.get(piece)
        if waiter is None:
            waiter = self._awaited[piece] = asyncio.get_running_loop().create_future()
        await asyncio.shield(waiter)

    def _piece_verified(self, piece: int) -> None:
        self.picker.piece_verified(piece)
        waiter = self._awaited.pop(piece, None)
        if waiter is not None:
            waiter.set_result(None)
        self._count_file_bytes(piece)
        for peer in self.peers:
            if peer.pieces is None or piece not in peer.pieces:
                peer.have(piece)
        if self.picker.is_complete() and self.state == TorrentState.DOWNLOADING:
            self._finished()

    def _piece_failed(self, piece: int) -> None:
        self._failed_at[piece] = time.monotonic()
        culprits = self.picker.piece_failed(piece)
        for culprit in culprits:
            if isinstance(culprit, WebSeed):
                self._blame_web_seed(culprit, alone=len(culprits) == 1)
            if not isinstance(culprit, PeerConnection):
                continue
            host = culprit.address[0]
            self.strikes[host] = self.strikes.get(host, 0) + 1
            if self.strikes[host] >= HASH_STRIKES:
                if host not in self.banned:  # pieces still in flight fail after the ban too
                    log.info("banning %s (%s): sent data that failed the hash check",
                             culprit.address_text, culprit.client or "client unknown")
                self.banned.add(host)
                self.candidates.pop(culprit.address, None)
                culprit.close("sent data that failed the hash check")

    def _finished(self) -> None:
        self._spare.clear()  # a seed receives nothing: give the piece buffers back
        self.trackers.completed()
        for peer in list(self.peers):
            peer.set_interested(False)
            if peer.is_seed:
                peer.close("both sides are seeds")
        self._stand(TorrentState.SEEDING, events.TorrentFinished)

    def wanted_changed(self) -> None:
        """File priorities changed: download again, or finish, and tell peers what we want now."""
        if not self.running:
            if self.checked:
                self._stand(self._standing())  # a stopped torrent only says where it now stands
            return
        if self.state == TorrentState.DOWNLOADING and self.picker.is_complete():
            self._finished()
            return
        if self.state == TorrentState.SEEDING and not self.picker.is_complete():
            self._stand(TorrentState.DOWNLOADING)
            for candidate in self.candidates.values():
                candidate.not_before = 0.0  # the seeds we left while seeding have something again
            self._connect_more(time.monotonic())
        if self.state == TorrentState.DOWNLOADING:
            for peer in list(self.peers):
                if peer.pieces is not None:
                    peer.set_interested(self.picker.interesting(peer.pieces))

    @property
    def writing(self) -> bool:
        """Pieces are being verified and written right now."""
        return bool(self._verifying)

    @property
    def running(self) -> bool:
        """Started and not stopped, whatever it is doing (checking, downloading, seeding)."""
        return self._task is not None

    def _apply_backpressure(self) -> None:
        """Stop reading from peers while too much received data waits for the disk."""
        limit = self.host.config.max_unwritten
        pause = self._unwritten > limit
        if pause == self._reading_paused or (not pause and self._unwritten > limit // 2):
            return
        self._reading_paused = pause
        for peer in self.peers:
            if peer.transport is not None:
                (peer.transport.pause_reading if pause else peer.transport.resume_reading)()
                if not pause:
                    peer.fill_pipeline()

    def _read_piece(self, index: int) -> asyncio.Future[bytes]:
        """The piece's read, started now (one per piece at a time); it lands in the read cache."""
        pending = self._reads.get(index)
        if pending is None:
            pending = self._reads[index] = self.storage.read(index, 0, self.metainfo.piece_size(index))
            pending.add_done_callback(functools.partial(self._piece_read, index))
        return pending

    def _piece_read(self, index: int, future: asyncio.Future[bytes]) -> None:
        del self._reads[index]
        if future.cancelled() or future.exception() is not None:
            return  # the readers waiting for it see the error
        self._read_cache[index] = future.result()
        while len(self._read_cache) * self.metainfo.piece_length > READ_CACHE_BYTES and len(self._read_cache) > 1:
            self._read_cache.popitem(last=False)

    # choking

    def choker_has_room(self) -> bool:
        unchoked = sum(1 for p in self.peers if not p.am_choking and p.peer_interested)
        return unchoked < self.choker.slots

    def _rechoke(self, now: float) -> None:
        candidates = [
            ChokeCandidate(p, p.peer_interested, p.down.rate, p.up.rate) for p in self.peers
        ]
        unchoke = self.choker.decide(now, candidates, self.state == TorrentState.SEEDING)
        for peer in self.peers:
            peer.set_choking(peer not in unchoke)

    # trackers

    @property
    def tracker_tiers(self) -> tuple[tuple[str, ...], ...]:
        """BEP 12 tiers from the metainfo; a magnet's trackers are a tier each until it is known."""
        if self._dormant is not None:
            return self._dormant.summary.trackers
        if self.has_metadata:
            return self.metainfo.trackers
        return tuple((url,) for url in self.magnet.trackers) if self.magnet is not None else ()

    @property
    def web_seeds(self) -> tuple[str, ...]:
        if self.has_metadata:
            return self.metainfo.url_list
        return self.magnet.web_seeds if self.magnet is not None else ()

    def merge(self, other: Torrent) -> tuple[int, int]:
        """Take the trackers and web seeds another copy of this torrent lists (and the peers
        its magnet names) as qBittorrent does; returns how many trackers and web seeds were new."""
        tiers = new_tiers(self.tracker_tiers, other.tracker_tiers)
        seeds = tuple(url for url in dict.fromkeys(other.web_seeds) if url not in self.web_seeds)
        if self.has_metadata:
            meta = self.metainfo
            self.metainfo = replace(meta, trackers=meta.trackers + tiers, url_list=meta.url_list + seeds)
        elif self.magnet is not None:
            urls = tuple(url for tier in tiers for url in tier)
            self.magnet = replace(self.magnet, trackers=self.magnet.trackers + urls,
                                  web_seeds=self.magnet.web_seeds + seeds)
        self.trackers.add_tiers(tiers)
        if other.magnet is not None:
            self.add_peers(list(other.magnet.peers))
        return sum(map(len, tiers)), len(seeds)

    def add_web_seed(self, url: str) -> bool:
        """A web seed added by hand, kept with the torrent's own (in its url-list, or a
        magnet's ws=); False if it has it already."""
        if url in self.web_seeds:
            return False
        if self.has_metadata:
            self.metainfo = replace(self.metainfo, url_list=self.metainfo.url_list + (url,))
        elif self.magnet is not None:
            self.magnet = replace(self.magnet, web_seeds=self.magnet.web_seeds + (url,))
        return True

    # web seeds (BEP 19): sources that have every piece, asked for whole pieces over HTTP

    def _tend_web_seeds(self, now: float, elapsed: float) -> None:
        """Start each idle, healthy web seed (BEP 19 url-list, BEP 17 httpseeds) while downloading.

        The rule that keeps peers fed: a seed gets whole pieces nobody has started, rarest
        first, so pieces no connected peer has come first (`PiecePicker.pick_whole`); only
        when none are left, the started pieces peers are slow with (`slow_pieces`: their
        missing part, as one range, whoever delivers a block first wins and the loser's
        request is cancelled), then the free blocks of started pieces and endgame duplicates. It has
        one batch of about REQUEST_BYTES in flight at a time and asks for the next only when
        that one is in: a slow seed holds a piece or two, a fast one (or a slow swarm) leaves
        it more to fetch.
        """
        if not self.has_metadata:
            return
        sources = [(url, False) for url in self.web_seeds] + [(url, True) for url in self.metainfo.http_seeds]
        for url, bep_17 in sources:
            if url not in self._web_seeds:
                seed = WebSeed(url, self.metainfo, self.layout, self, self._http, http_seed=bep_17)
                self._web_seeds[url] = seed
                self.picker.peer_joined(seed.pieces)
        for seed in self._web_seeds.values():
            seed.down.tick(elapsed)
            if self.state == TorrentState.DOWNLOADING and not seed.busy and seed.health.ready(now):
                seed.start()

    def _http(self) -> aiohttp.ClientSession | None:
        # Asked at each request: a new bind address makes a new one. Any family the server has.
        return (self.host.network.http or {}).get(socket.AF_UNSPEC)

    def web_seed_blocks(self, seed: WebSeed, count: int) -> list[Block]:
        if self.state != TorrentState.DOWNLOADING or self._reading_paused or seed.health.dropped:
            return []
        return self.picker.pick_whole(seed, seed.pieces, count, slow=self._slow_pieces)

    def _slow_pieces(self) -> list[int]:
        """Started pieces the peers are slow with (in the endgame, all), for a web seed to take over."""
        queues = [
            PeerQueue(peer.down.rate, peer.last_piece, tuple(peer.outstanding.values()))
            for peer in self.peers if peer.outstanding
        ]
        return slow_pieces(queues, time.monotonic(), endgame=self.picker.in_endgame)

    def web_seed_failed(self, seed: WebSeed, error: WebSeedError) -> None:
        """One request failed: the seed waits (its run ends; the next tick starts it again)."""
        seed.health.failed(error, time.monotonic())
        log.info("torrent %s: web seed %s: %s", self.name, seed.url, error)
        if seed.health.dropped:
            self._web_seed_dropped(seed)

    def _blame_web_seed(self, seed: WebSeed, alone: bool) -> None:
        if seed.health.dropped:
            return  # pieces still in flight fail after the drop too
        seed.health.hash_failed(alone)
        if seed.health.dropped:
            seed.stop()
            self._web_seed_dropped(seed)

    def _web_seed_dropped(self, seed: WebSeed) -> None:
        """Its pieces no longer count as available; its row stays, with the reason."""
        log.info("torrent %s: dropping web seed %s: %s", self.name, seed.url, seed.health.reason)
        self.picker.peer_left(seed.pieces)

    async def _stop_web_seeds(self) -> None:
        tasks = [task for seed in self._web_seeds.values() if (task := seed.stop()) is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        for seed in self._web_seeds.values():
            self.downloaded += seed.down.total
            if not seed.health.dropped:
                self.picker.peer_left(seed.pieces)
        self._web_seeds.clear()

    def _web_seed_rows(self, now: float) -> tuple[PeerSnapshot, ...]:
        return tuple(
            PeerSnapshot(
                address=seed.url, client=seed.client, flags="D" if seed.busy else "", progress=1.0,
                down_rate=seed.down.rate, up_rate=0.0, downloaded=seed.down.total, uploaded=0,
                incoming=False, note=seed.health.status(now), taken_over=seed.won,
            )
            for seed in self._web_seeds.values()
        )

    def _make_trackers(self) -> TrackerManager:
        return TrackerManager(
            self.tracker_tiers,
            info_hashes=self.swarm_ids,
            peer_id=self.host.peer_id,
            network=self.host.network,
            stats=self._tracker_stats,
            on_peers=self.add_peers,
            on_change=lambda: self.host.touched(self),
        )

    def _tracker_stats(self) -> tuple[int, int, int]:
        left = self.picker.wanted_left if self.has_metadata else UNKNOWN_LEFT
        return self.total_uploaded, self.total_downloaded, left

    # reading the state

    @property
    def accepts_peers(self) -> bool:
        """Checked and running: our bitfield is final, so a handshake can be answered."""
        running = (TorrentState.METADATA, TorrentState.DOWNLOADING, TorrentState.SEEDING)
        return self.running and self.state in running

    @property
    def total_downloaded(self) -> int:
        seeds = sum(seed.down.total for seed in self._web_seeds.values())
        return self.downloaded + sum(p.down.total for p in self.peers) + seeds

    @property
    def total_uploaded(self) -> int:
        return self.uploaded + sum(p.up.total for p in self.peers)

    def snapshot(self, reach: Reach = Reach()) -> TorrentSnapshot:
        """The torrent for the UI. A quiet torrent gives the same object again while nothing it
        shows has changed: the bridge's diff and the models then skip it (issue 19: with 10,000
        idle seeds, a tick costs what changed, not what exists)."""
        key = self._quiet_key(reach)
        if key is None or self._shown is None or self._shown[0] != key:
            build = self._build_snapshot if self._dormant is None else self._dormant_snapshot
            self._shown = (key, build(reach))
        return self._shown[1]

    @property
    def changing(self) -> bool:
        """Its last snapshot was of a busy torrent (peers, dials, a check): what it shows moves
        by itself, so the session looks at it at every snapshot."""
        return self._shown is None or self._shown[0] is None

    def _quiet_key(self, reach: Reach) -> tuple[object, ...] | None:
        """Everything a quiet torrent's snapshot is made of; None while it is busy (peers,
        connections, web seeds, a check): its rates and progress move at every tick. The
        session's uptime counts in whole minutes once it can matter, as the tracker countdown does."""
        checking = self.state == TorrentState.CHECKING and self.reason is None
        if checking or self.peers or self.connecting or self._web_seeds or self._buffers:
            return None
        if self._dormant is not None:  # it does not run: only what the user changes shows
            return (
                self.last_change, self.note, self.downloaded, self.uploaded, self.options,
                self.save_path, self.labels, id(self._dormant),
            )
        left = self.picker.wanted_left if self.has_metadata else 0
        # Reach changes what is shown only past the grace time of the "unreachable" cause.
        minutes = None if reach.uptime is None or reach.uptime < REACH_GRACE else int(reach.uptime // 60)
        return (
            self.last_change, self.error, self.note, self.downloaded, self.uploaded, self.options,
            self.name, self.save_path, self.num_pieces, left, self._pieces_counted, id(self._file_done),
            self.trackers.fingerprint(), self.labels, reach.incoming_connections, reach.port_mapped, minutes,
        )

    def _build_snapshot(self, reach: Reach) -> TorrentSnapshot:
        total = self.metainfo.total_length if self.has_metadata else 0
        verified = total - self._missing_bytes()
        skipped, wanted, wanted_verified = self._wanted_bytes()
        down = self._down_rate()
        up = sum(p.up.rate for p in self.peers)
        seeds = sum(1 for p in self.peers if p.is_seed)
        downloaded = self.total_downloaded
        left = self.picker.wanted_left if self.has_metadata else 0
        eta = left / down if self.state == TorrentState.DOWNLOADING and down > 0 else None
        return TorrentSnapshot(
            info_hash=self.info_hash.hex(),
            name=self.name,
            state=self.state,
            progress=wanted_verified / wanted if wanted else float(self.has_metadata),
            total_size=total,
            wanted_size=total - skipped,
            verified_bytes=verified,
            downloaded=downloaded,
            uploaded=self.total_uploaded,
            down_rate=down,
            up_rate=up,
            peers=len(self.peers) - seeds,
            seeds=seeds,
            swarm_peers=self.trackers.peers,
            swarm_seeds=self.trackers.seeds,
            eta=eta,
            ratio=self.total_uploaded / downloaded if downloaded else 0.0,
            num_pieces=self.num_pieces,
            piece_length=self.metainfo.piece_length if self.has_metadata else 0,
            save_path=str(self.save_path),
            added_on=self.added_on,
            trackers=self.trackers.snapshot(),
            error=self.error,
            status_text=self._status_text(),
            reason=self.reason,
            category=self.labels.category,
            tags=self.labels.tags,
            why=next(iter(diagnose(self.measurements(reach))), None),
        )

    def _dormant_snapshot(self, reach: Reach) -> TorrentSnapshot:
        """A dormant torrent's row, from its summary and resume data (issue 19). It does not
        run: no peers or rates, no cause but why it is stopped; its trackers are not contacted
        yet. Only a torrent with every file wanted, and pad files (BEP 47) only if it is
        complete or empty, is restored dormant (Session._restore): its progress needs no file list."""
        assert self._dormant is not None
        summary = self._dormant.summary
        verified = self._dormant.verified_bytes()
        padding = summary.padding_length if verified == summary.total_length else 0
        wanted = summary.total_length - summary.padding_length
        return TorrentSnapshot(
            info_hash=self.info_hash.hex(), name=self.name, state=self.state,
            progress=(verified - padding) / wanted if wanted else 1.0,
            total_size=summary.total_length, wanted_size=summary.total_length, verified_bytes=verified,
            downloaded=self.downloaded, uploaded=self.uploaded, down_rate=0.0, up_rate=0.0, peers=0, seeds=0,
            swarm_peers=None, swarm_seeds=None, eta=None,
            ratio=self.uploaded / self.downloaded if self.downloaded else 0.0,
            num_pieces=self.num_pieces, piece_length=summary.piece_length, save_path=str(self.save_path),
            added_on=self.added_on, trackers=self._dormant.tracker_rows(), error=self.error,
            status_text=self._status_text(), reason=self.reason, category=self.labels.category,
            tags=self.labels.tags, why=next(iter(diagnose(Measurements(False, self.reason, reach=reach))), None),
        )

    def _down_rate(self) -> float:
        return sum(p.down.rate for p in self.peers) + sum(s.down.rate for s in self._web_seeds.values())

    def measurements(self, reach: Reach = Reach()) -> Measurements:
        """What the speed diagnosis reads (app/engine/diagnosis.py): counts, no judgement."""
        wanting = self.state in (TorrentState.DOWNLOADING, TorrentState.METADATA)
        downloading = self.running and self.reason is None and wanting
        needed, available = self._needed_pieces() if downloading else (0, 0)
        limits, session = self.throttle.limits, self.throttle.session_limits
        trackers = self.trackers.snapshot()
        connected = {p.address for p in self.peers}
        interested = [p for p in self.peers if p.am_interested]
        return Measurements(
            downloading=downloading, reason=self.reason, down_rate=self._down_rate(),
            torrent_down_limit=limits.down, session_down_limit=session.down,
            up_limit=min((limit for limit in (limits.up, session.up) if limit), default=0),
            peers=len(self.peers), peers_with_needed=len(interested),
            known_peers=sum(1 for address in self.candidates if address not in connected),
            needed_pieces=needed, available_pieces=available,
            choked_by=sum(1 for p in interested if p.peer_choking), interested_in=len(interested),
            unwritten=self._unwritten, unwritten_cap=self.host.config.max_unwritten, disk_behind=self._reading_paused,
            trackers=len(trackers), trackers_working=sum(1 for t in trackers if t.status == "working"),
            tracker_message=self.trackers.status_text, dht=self.host.dht is not None,
            max_peers=self.host.config.max_peers_per_torrent, reach=reach,
            # Asked only where the diagnosis reads it: can_connect() counts every torrent's peers
            # (issue 19: the first snapshot of 10,000 torrents asked it 10,000 times).
            session_full=downloading and not self.host.can_connect(),
        )

    def _needed_pieces(self) -> tuple[int, int]:
        """Wanted pieces not verified yet, and how many of them some connected peer has."""
        if not self.has_metadata:
            return 0, 0
        needed = self.picker.missing
        if not self.peers or any(p.is_seed for p in self.peers):  # the cheap answers first: 0 or all
            return needed, needed if self.peers else 0
        return needed, self.picker.available_missing()

    def _missing_bytes(self) -> int:
        if not self.has_metadata:
            return 0
        return sum(f.length - done for f, done in zip(self.metainfo.files, self._file_done))

    def _wanted_bytes(self) -> tuple[int, int, int]:
        """Bytes of the skipped files; size and verified bytes of the wanted ones (BEP 47 pad
        files in neither): what progress is about."""
        if not self.has_metadata:
            return 0, 0, 0
        skipped = size = done = 0
        for index, (entry, verified) in enumerate(zip(self.metainfo.files, self._file_done)):
            if entry.padding:
                continue
            if self.options.file_priority(index) == SKIP:
                skipped += entry.length
            else:
                size += entry.length
                done += verified
        return skipped, size, done

    def _status_text(self) -> str:
        texts: dict[TorrentState, Callable[[], str]] = {
            TorrentState.CHECKING: lambda: f"Checking {self.check_progress:.0%}",
            TorrentState.DOWNLOADING: lambda: self._active_text("Downloading"),
            TorrentState.SEEDING: lambda: self._active_text("Seeding"),
        }
        if self.reason is not None:
            text = f"Error: {self.error}" if self.reason == StopReason.ERROR else self.reason.value
        else:
            text = texts.get(self.state, lambda: self.state.value.capitalize())()
        return f"{text} — {self.note}" if self.note else text

    def _active_text(self, word: str) -> str:
        if not self.peers and self._dormant is None and self.trackers.status_text:
            return f"{word} — {self.trackers.status_text}"
        return word

    def details(self, reach: Reach = Reach()) -> TorrentDetails:
        peers = tuple(self._peer_snapshot(p) for p in self.peers) + self._web_seed_rows(time.monotonic())
        causes = diagnose(self.measurements(reach))
        if not self.has_metadata:
            return TorrentDetails(
                self.info_hash.hex(), peers, (), b"", b"", self.active_seconds, "", False,
                self.options, self.seeding_seconds, causes, **self._hash_fields(),
            )
        states = bytearray(self.picker.states_bytes())
        for piece in self._failed_at:
            if states[piece] != PieceState.VERIFIED:
                states[piece] = PieceState.FAILED
        return TorrentDetails(
            info_hash=self.info_hash.hex(),
            peers=peers,
            files=tuple(
                FileSnapshot("/".join(f.path), f.length, done, self.options.file_priority(i), f.padding)
                for i, (f, done) in enumerate(zip(self.metainfo.files, self._file_done))
            ),
            pieces=bytes(states),
            availability=self.picker.availability_bytes(),
            time_active=self.active_seconds,
            comment=self.metainfo.comment,
            private=self.metainfo.private,
            options=self.options,
            seeding_time=self.seeding_seconds,
            causes=causes,
            **self._hash_fields(),
        )

    def _hash_fields(self) -> dict[str, str]:
        """BEP 52: the format and both info-hashes, from the metadata or else the magnet link."""
        source = self.metainfo if self.has_metadata else self.magnet
        v2 = source.info_hash_v2 if source is not None else None
        v2_only = v2 is not None and v2[:20] == self.info_hash
        return {
            "format": self.metainfo.format if self.has_metadata else "",
            "info_hash_v1": "" if v2_only else self.info_hash.hex(),
            "info_hash_v2": v2.hex() if v2 is not None else "",
        }

    def _peer_snapshot(self, peer: PeerConnection) -> PeerSnapshot:
        progress = peer.pieces.count / self.num_pieces if peer.pieces is not None and self.num_pieces else 0.0
        return PeerSnapshot(
            address=peer.address_text,
            client=peer.client,
            flags=_peer_flags(peer),
            progress=progress,
            down_rate=peer.down.rate,
            up_rate=peer.up.rate,
            downloaded=peer.down.total,
            uploaded=peer.up.total,
            incoming=peer.incoming,
            encrypted=peer.encrypted,
            transport="uTP" if isinstance(peer.transport, UtpTransport) else "TCP",
        )


def _first_id(metainfo: Metainfo | None, dormant: Dormant | None, magnet: Magnet | None) -> bytes:
    source = metainfo or dormant or magnet
    assert source is not None, "a torrent is made from a metainfo, a dormant record or a magnet"
    return source.info_hash


def _pex_flags(peer: PeerConnection) -> int:
    """BEP 11 added.f: 0x04 the peer speaks uTP (we reach it over uTP), 0x02 it is a seed."""
    utp = ext.PEX_UTP if isinstance(peer.transport, UtpTransport) else 0
    return utp | (ext.PEX_SEED if peer.is_seed else 0)


def _peer_flags(peer: PeerConnection) -> str:
    """qBittorrent's letters: D/d downloading or interested-but-choked, U/u likewise up, I incoming,
    E encrypted, P uTP."""
    flags = []
    if peer.am_interested:
        flags.append("d" if peer.peer_choking else "D")
    if peer.peer_interested:
        flags.append("u" if peer.am_choking else "U")
    if not peer.am_interested and not peer.peer_choking:
        flags.append("K")
    if not peer.peer_interested and not peer.am_choking:
        flags.append("?")
    if peer.incoming:
        flags.append("I")
    if peer.encrypted:
        flags.append("E")
    if isinstance(peer.transport, UtpTransport):
        flags.append("P")
    return " ".join(flags)

