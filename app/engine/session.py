"""The engine's facade: commands in, snapshots and events out (DESIGN rule 3).

A session owns what its torrents share: our peer id, the listen socket, the thread pool for
disk and hashing, the HTTP client for trackers, and the connection limits.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import platformdirs

from app.engine import events
from app.engine.completion_program import CompletionRunner, Finished
from app.engine.controls import Controls
from app.engine.errors import EngineError, StorageError
from app.engine.metainfo import Metainfo, is_web_seed_url, load_metainfo, parse_metainfo, to_torrent_bytes
from app.engine.metainfo_summary import MetainfoSummary, read_summary, summary_text
from app.engine.dht import DEFAULT_BOOTSTRAP, DualStackDht
from app.engine.diagnosis import REACH_GRACE, Reach
from app.engine.disk_guard import free_bytes
from app.engine.ip_filter import IpFilter
from app.engine.ip_filter_file import load_ip_filter
from app.engine.label_controls import LabelControls
from app.engine.labels import Labels
from app.engine.lsd import LsdService
from app.engine.magnet import Magnet, format_magnet, parse_magnet
from app.engine.peer import PeerConnection
from app.engine.peer_id import make_peer_id
from app.engine.stream_server import StreamServer
from app.engine.portmap.service import PortMapOptions, PortMapService
from app.engine.portmap.status import MapState, PortMapStatus
from app.engine.rate_limit import AltSchedule, Throttle
from app.engine.rss.rules import Rule
from app.engine.rss.service import RssService, RssSnapshot
from app.engine.mover import MoveStatus
from app.engine.peer_address import parse_peer_address
from app.engine.sockets import Listener, Sockets
from app.engine.transport.utp_endpoint import TRANSPORTS, UtpEndpoint, dial, dial_order
from app.engine.transport.utp_transport import UtpTransport
from app.engine.snapshot_book import SnapshotBook
from app.engine.snapshots import (
    USER_STOPS, SessionSnapshot, StopReason, TorrentChanges, TorrentDetails, TorrentSnapshot, TorrentState,
)
from app.engine.storage.disk import OPEN_FILES, OpenFiles
from app.engine.heartbeat import Heartbeat
from app.engine.store import ResumeRecord, Store, TorrentRecord, file_stamps, stamps_or_none, trustworthy
from app.engine.torrent import Dormant, Torrent
from app.engine.torrent_options import SKIP, TorrentOptions
from app.engine.tracker import compact
from app.engine.transport.mse import Initiator
from app.engine.watch_folder import FolderWatcher, WatchedFolder
from app.engine.transport.mse_memory import EncryptionMemory
from app.engine.transport.mse_transport import METHODS, AcceptStream, DialStream, Encryption

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 20.0
MSE_TIMEOUT = 10.0  # a peer silent this long in the encrypted handshake is given up (or dialed plain)
# Restored torrents make their first announces at this pace: 10,000 take under three minutes.
RESTORED_ANNOUNCES_PER_SECOND = 60.0
WAKE_BATCH = 100  # restored torrents built and started per turn of the loop, after start() (issue 19)


class DuplicateTorrentError(EngineError):
    """The torrent is already in the session; the message says what of the new copy (trackers,
    web seeds) was merged into it."""


class UnknownTorrentError(EngineError):
    """No torrent with that info-hash is in the session."""


def _default_download_dir() -> Path:
    return Path(platformdirs.user_downloads_dir())


@dataclass(frozen=True, slots=True)
class SessionConfig:
    listen_host: str = "0.0.0.0"  # also the address outgoing connections are made from
    listen_port: int = 6881  # 0 lets the system choose
    download_dir: Path = field(default_factory=_default_download_dir)
    max_peers_per_torrent: int = 50
    max_peers: int = 200
    max_half_open: int = 30
    upload_slots: int = 4
    max_unwritten: int = 64 * 1024 * 1024  # received bytes waiting for the disk, per torrent
    disk_threads: int = max(2, os.cpu_count() or 2)
    open_files: int = OPEN_FILES  # descriptors kept open for all torrents together (an LRU)
    profile_dir: Path | None = None  # where the session store lives; None: nothing is remembered
    resume_interval: float = 30.0  # seconds between saves of resume data
    enable_dht: bool = True  # BEP 5; never for private torrents (BEP 27)
    dht_bootstrap: tuple[tuple[str, int], ...] = DEFAULT_BOOTSTRAP
    enable_pex: bool = True  # BEP 11
    enable_lsd: bool = True  # BEP 14: multicast on the local network
    down_limit: int = 0  # bytes per second for all torrents together; 0: no limit
    up_limit: int = 0
    alt_down_limit: int = 0  # the alternative ("turtle") limits
    alt_up_limit: int = 0
    alt_limits_on: bool = False  # switched on by hand
    alt_schedule: AltSchedule | None = None  # or on a weekly schedule
    max_active_downloads: int = 0  # more wait in the queue ("Queued"); 0: no limit
    max_active_seeds: int = 0
    seed_ratio_limit: float = 0.0  # pause a torrent once it has shared this much; 0: never
    seed_time_limit: float = 0.0  # or once it has seeded this many seconds; 0: never
    disk_reserve: int = 1024**3  # a torrent pauses rather than leave less free space; 0: no guard
    port_mapping: bool = True  # ask the router (UPnP, PCP, NAT-PMP) to open the listen ports
    encryption: str = Encryption.ALLOW  # MSE/PE: "allow", "require" or "disable"
    ip_filter_path: Path | None = None  # an eMule .dat or PeerGuardian .p2p block list, maybe gzipped
    banned_peers: tuple[str, ...] = ()  # addresses the user banned ("Ban peer"), refused both ways
    transport: str = "both"  # peers over "both" (dial TCP, then uTP; accept both), "utp-first", "tcp" or "utp" (BEP 29)
    watch_folders: tuple[WatchedFolder, ...] = ()  # .torrent files put there are added by themselves
    watch_interval: float = 3.0  # seconds between scans of the watched folders
    on_complete_program: str = ""  # run when a download completes, with %N %F %D %I ...; "" none
    rss_interval: float = 30 * 60.0  # seconds between refreshes of the feeds

    def __post_init__(self) -> None:
        if self.encryption not in set(Encryption):
            raise EngineError(f"encryption must be allow, require or disable, not '{self.encryption}'")
        if self.transport not in TRANSPORTS:
            raise EngineError(f"transport must be {', '.join(TRANSPORTS)}, not '{self.transport}'")


def default_profile_dir() -> Path:
    return Path(platformdirs.user_data_dir("Piecemeal", appauthor=False))


class Session:
    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.peer_id = make_peer_id()
        self.rng = random.Random()  # one for every torrent's choker and picker: seeding one costs
        self.executor = ThreadPoolExecutor(self.config.disk_threads, thread_name_prefix="disk")
        self.open_files = OpenFiles(self.config.open_files)
        self.heartbeat: Heartbeat[Torrent] = Heartbeat()  # ticks the running torrents that have work (issue 19)
        self._book = SnapshotBook()
        self._shown = _ShownTorrents()
        # By torrent, at the last resume save: (writes, verified, save path) and the stamps then.
        self._stamped: dict[bytes, tuple[tuple[int, bytes, Path], tuple[tuple[int, int], ...]]] = {}
        self.sockets = Sockets(self.config.listen_host)  # every socket leaves from the chosen address
        self.http: dict[int, aiohttp.ClientSession] = {}  # per address family (Sockets.http_clients)
        self.listen_port: int | None = None
        self.torrents: dict[bytes, Torrent] = {}
        self._server: Listener | None = None
        self._listeners: list[Callable[[events.Event], None]] = []
        self._half_open = 0
        # Accepted connections awaiting a handshake: MSE (AcceptStream), then BitTorrent's.
        self._handshaking: set[PeerConnection | AcceptStream] = set()
        self._dialling: set[asyncio.Task[None]] = set()  # outgoing connects, kept from the GC
        self.store: Store | None = None
        self.controls = Controls(self)  # limits, queue, disk guard, moves
        self.notices: list[str] = []  # things the user should read once (e.g. a damaged store)
        self._saver: asyncio.Task[None] | None = None
        self._waking: asyncio.Task[None] | None = None  # starts the restored torrents, batch by batch
        self._streams: StreamServer | None = None  # started by the first stream_url
        self.dht: DualStackDht | None = None
        self.dht_port: int | None = None
        self._lsd: list[LsdService] = []  # one per address family (BEP 14)
        self.utp: dict[int, UtpEndpoint] = {}  # per family, the UDP socket of uTP and that DHT node
        self.network = SessionNetwork(self)  # what trackers ask at each announce
        self.port_map_options = PortMapOptions()
        self.encryption_memory = EncryptionMemory()  # peers that took plain when "allow" dialed MSE
        self._portmap: PortMapService | None = None
        self.incoming_connections = 0  # handshakes completed by peers that reached us
        self.listening_since: float | None = None  # time.monotonic() when the listener opened
        self.labels = LabelControls(self)  # categories and tags
        self.watcher = FolderWatcher(lambda: self.config.watch_folders, self._add_watched, self._tell)
        self.on_complete = CompletionRunner(lambda: self.config.on_complete_program, self._finished_fields)
        self.add_listener(self.on_complete.heard)
        self.rss = RssService(
            lambda: self.http.get(socket.AF_UNSPEC), self._add_from_feed, self._load_rss, self._save_rss
        )  # feeds are fetched over whichever family their server has

    # lifecycle

    async def start(self) -> None:
        self.sockets = replace(self.sockets, host=self.config.listen_host)
        self.http = self.sockets.http_clients()
        if self.config.profile_dir is not None:
            await self._open_store(self.config.profile_dir)
        await self._start_ip_filter()
        self._server = await self._listen(self.config)
        await self._open_utp()
        self.listening_since = time.monotonic()
        await self._start_discovery()
        await self._start_port_mapping()
        self.controls.start()
        self._start_restored(time.monotonic())
        if self.store is not None:
            self._saver = asyncio.ensure_future(self._save_periodically())
        self.watcher.interval = self.config.watch_interval
        self.watcher.start()
        self.rss.interval = self.config.rss_interval
        self.rss.start()

    def _start_restored(self, now: float) -> None:
        """Start what was running. Their first announces (trackers and DHT) go out paced, in
        queue order, not 10,000 at once; torrents the user adds or starts later do not wait.
        Dormant ones are built and started after start() returns, a batch per turn of the loop:
        the window shows them meanwhile (issue 19). A hybrid torrent announces under both its
        ids (BEP 52): it takes two turns."""
        running = [t for t in self.torrents.values() if not t.paused]
        turn = 0
        for torrent in running:
            torrent.first_announce_at = now + turn / RESTORED_ANNOUNCES_PER_SECOND
            turn += len(torrent.swarm_ids)
            if not torrent.dormant:
                torrent.start()
        dormant = [t for t in running if t.dormant]
        if dormant:
            self._waking = asyncio.ensure_future(self._wake_and_start(dormant))

    async def _wake_and_start(self, torrents: list[Torrent]) -> None:
        for first in range(0, len(torrents), WAKE_BATCH):
            batch = [t for t in torrents[first : first + WAKE_BATCH] if self._still_to_start(t)]
            paths = [self._paths_to_wake(t) for t in batch]
            stamps = await asyncio.to_thread(lambda: [stamps_or_none(p) if p is not None else None for p in paths])
            for torrent, current, looked in zip(batch, stamps, paths):
                if looked is not None and self._still_to_start(torrent):
                    torrent.wake_with(current)
                    torrent.start()

    def _still_to_start(self, torrent: Torrent) -> bool:
        """Not removed, paused or started (woken by the user) since start-up."""
        return self.torrents.get(torrent.info_hash) is torrent and torrent.reason is None and not torrent.running

    def _paths_to_wake(self, torrent: Torrent) -> list[Path] | None:
        """Its files; None if its stored .torrent bytes no longer parse: it leaves the list, said once."""
        if not torrent.dormant:
            return []
        try:
            return torrent.dormant_paths()
        except EngineError as exc:
            del self.torrents[torrent.info_hash]
            self.notices.append(f"Could not restore '{torrent.name}': {exc}")
            return None

    async def _listen(self, config: SessionConfig) -> Listener:
        try:
            server = await replace(self.sockets, host=config.listen_host).listen(self._incoming, config.listen_port)
        except OSError as exc:
            raise EngineError(
                f"Could not listen on {config.listen_host} port {config.listen_port}: {exc.strerror or exc}."
            ) from exc
        self.listen_port = server.port
        log.info("listening on %s port %s", config.listen_host or "any address", self.listen_port)
        return server

    async def set_config(self, **changes: Any) -> None:
        """Change settings while running; each takes effect at once. A listen address or port
        that cannot be used raises EngineError and leaves everything as it was.

        Most settings are read where they are used (limits per peer, the queue, seeding goals);
        those that something was built from are applied by the reactions in `_SETTING_REACTIONS`.
        """
        old, new = self.config, replace(self.config, **changes)
        self.config = new
        if self._server is None:  # not started: start() reads it all
            return
        changed = {f.name for f in fields(SessionConfig) if getattr(old, f.name) != getattr(new, f.name)}
        for names, react in _SETTING_REACTIONS:
            if changed & names:
                await react(self, old)
        self.controls.update_limits(datetime.now())

    async def _relisten(self, old: SessionConfig) -> None:
        """Listen on the new address.

        The same port on another host: the old socket is closed first, or the new bind could
        clash with it (EADDRINUSE), and reopened if the new one fails.
        """
        new = self.config
        same_port = new.listen_port == old.listen_port != 0
        if same_port and self._server is not None:
            self._server.close()
        try:
            server = await self._listen(new)
        except EngineError:
            self.config = old
            if same_port:
                self._server = await self._listen(old)
            raise
        if not same_port and self._server is not None:
            self._server.close()
        self._server = server

    async def _new_http_client(self, old: SessionConfig) -> None:
        """'VPN only': trackers are asked from the new address; announces in flight finish first."""
        self.sockets = replace(self.sockets, host=self.config.listen_host)
        previous, self.http = self.http, self.sockets.http_clients()
        for client in previous.values():
            await client.close()

    async def _open_utp(self) -> None:
        """Per family we speak, one UDP socket on the TCP port's number for uTP and the DHT (as
        other clients do). IPv6 that cannot be had (no IPv6 here) leaves IPv4 alone, as TCP does."""
        for family in self.sockets.families:
            endpoint = UtpEndpoint(self._incoming_utp, family)
            endpoint.set_limits(self.config.max_peers, self.config.max_half_open)
            try:
                await endpoint.start(self.sockets, self.listen_port or 0)
            except OSError as exc:
                if family == self.sockets.families[0]:
                    raise
                log.warning("uTP over IPv6 is off: %s", exc.strerror or exc)
                continue
            self.utp[family] = endpoint

    async def _reopen_utp(self, old: SessionConfig) -> None:
        await self._close_utp()
        await self._open_utp()

    async def _close_utp(self) -> None:
        for endpoint in self.utp.values():
            endpoint.close()
        self.utp = {}

    async def _set_utp_limits(self, old: SessionConfig) -> None:
        for endpoint in self.utp.values():
            endpoint.set_limits(self.config.max_peers, self.config.max_half_open)

    def _incoming_utp(self, transport: UtpTransport) -> None:
        if self.config.transport == "tcp":
            transport.abort()
            return
        transport.attach(self._incoming())  # MSE or plaintext, as over TCP

    async def _restart_discovery(self, old: SessionConfig) -> None:
        await self._stop_discovery()
        await self._start_discovery()

    async def _set_upload_slots(self, old: SessionConfig) -> None:
        for torrent in self.torrents.values():
            torrent.choker.set_slots(self.config.upload_slots)

    async def _announce_address(self, old: SessionConfig) -> None:
        """Trackers hear the new port (or see the new address) now, not at their next interval."""
        for torrent in self.torrents.values():
            torrent.trackers.announce_now()

    async def _start_ip_filter(self) -> None:
        """A block list that cannot be read does not stop the session: the user reads why."""
        self.sockets.gate.set_bans(self.config.banned_peers)
        try:
            await self.reload_ip_filter()
        except EngineError as exc:
            self.notices.append(str(exc))

    async def reload_ip_filter(self) -> None:
        """Read the block list again (the file may have changed); peers it blocks are disconnected.
        EngineError, and the old list stays, if the file cannot be read."""
        path = self.config.ip_filter_path
        if path is None:
            self.sockets.gate.set_list(IpFilter())
            return
        loaded = await asyncio.to_thread(load_ip_filter, path)
        self.sockets.gate.set_list(loaded.filter, loaded.message)
        log.info("IP filter: %s", loaded.message)
        self._drop_blocked_peers()

    async def _new_ip_filter(self, old: SessionConfig) -> None:
        try:
            await self.reload_ip_filter()
        except EngineError:
            self.config = replace(self.config, ip_filter_path=old.ip_filter_path)
            raise

    async def _new_bans(self, old: SessionConfig) -> None:
        self.sockets.gate.set_bans(self.config.banned_peers)
        self._drop_blocked_peers()

    def _drop_blocked_peers(self) -> None:
        for torrent in self.torrents.values():
            for peer in list(torrent.peers):
                if self.sockets.gate.refuses(peer.address[0]):
                    peer.close("blocked by the IP filter")

    async def close(self) -> None:
        """Stop everything. Each step is guarded: one that fails must not leave the rest open."""
        steps = (self._stop_serving, self._stop_streams, self._stop_port_mapping, self.watcher.close, self.rss.close,
                 self.on_complete.close, self.controls.close, self._stop_torrents, self._stop_discovery,
                 self._close_utp, self._close_store, self._close_http)
        for step in steps:
            try:
                await step()
            except Exception:  # a task boundary: log it and close what is left
                log.exception("closing the session: %s failed", step.__name__)
        self.executor.shutdown(wait=True)

    async def _stop_serving(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._saver is not None:
            self._saver.cancel()

    async def _stop_torrents(self) -> None:
        if self._waking is not None:
            self._waking.cancel()
            await asyncio.gather(self._waking, return_exceptions=True)
        await asyncio.gather(*(t.close() for t in self.torrents.values()), return_exceptions=True)
        self.heartbeat.close()

    async def _close_store(self) -> None:
        if self.store is None:
            return
        try:
            await self.save_resume()
        finally:
            self.store.close()
            self.store = None

    async def _close_http(self) -> None:
        for client in self.http.values():
            await client.close()

    # port mapping: the router opens the listen ports (TCP peers, UDP for the DHT)

    async def _start_port_mapping(self) -> None:
        if not self.config.port_mapping or self.listen_port is None:
            return
        ports = {"TCP": self.listen_port, "UDP": self.dht_port or self.listen_port}
        self._portmap = PortMapService(self.sockets, ports, self.port_map_options)
        await self._portmap.start()

    async def _stop_port_mapping(self) -> None:
        portmap, self._portmap = self._portmap, None
        if portmap is not None:
            await portmap.close()  # removes the mappings from the router

    async def _remap(self, old: SessionConfig) -> None:
        await self._stop_port_mapping()
        await self._start_port_mapping()

    def port_mapping_status(self) -> PortMapStatus:
        return self._portmap.status if self._portmap is not None else PortMapStatus()

    # peer discovery beyond trackers: DHT and LSD (PEX lives in the torrents)

    async def _start_discovery(self) -> None:
        if self.config.enable_dht:
            await self._start_dht()
        if self.config.enable_lsd:
            for family in self.sockets.families:
                await self._start_lsd(family)
            self._update_lsd()

    async def _start_dht(self) -> None:
        """BEP 32: a node per family we speak, under one id."""
        saved = self.store.get_setting("dht") if self.store else None
        node_id = bytes.fromhex(saved["node_id"]) if saved else None
        families, bootstrap = self.sockets.families, self.config.dht_bootstrap
        self.dht = DualStackDht(families=families, node_id=node_id, bootstrap=bootstrap)
        if saved:
            self.dht.load_nodes(saved.get("nodes", []))
        # Each node shares its family's uTP socket, which hands it its datagrams.
        shared = {family: endpoint.udp.transport for family, endpoint in self.utp.items() if endpoint.udp.transport}
        await self.dht.start(self.sockets, self.listen_port or 0, shared=shared)
        for family, endpoint in self.utp.items():
            endpoint.udp.dht = self.dht.nodes.get(family)
        self.dht_port = self.dht.port

    async def _start_lsd(self, family: int) -> None:
        service = LsdService(self.listen_port or 0, self._lsd_peer, sockets=self.sockets, family=family)
        try:
            await service.start()
        except OSError as exc:
            name = socket.AddressFamily(family).name
            log.warning("local service discovery over %s is off: %s", name, exc)
            return
        self._lsd.append(service)

    async def _stop_discovery(self) -> None:
        if self.dht is not None:
            if self.store is not None:
                self.store.set_setting("dht", self.dht.save_state())
            await self.dht.close()
            self.dht = self.dht_port = None
            for endpoint in self.utp.values():
                endpoint.udp.dht = None
        for service in self._lsd:
            service.close()
        self._lsd = []

    def _lsd_peer(self, info_hash: bytes, address: tuple[str, int]) -> None:
        torrent = self.torrents.get(info_hash)
        if torrent is not None and not torrent.private:
            torrent.add_peers([address])

    def _update_lsd(self) -> None:
        for service in self._lsd:
            service.set_info_hashes(ih for ih, t in self.torrents.items() if not t.private)

    def metadata_received(self, torrent: Torrent) -> None:
        """A magnet's info dictionary arrived (and was verified): remember it, tell the UI.

        If the user asked to choose the files first, the torrent goes no further: it stops,
        and says why, until they have (`set_file_priorities`, then `resume`).
        """
        choose = torrent.choose_files
        if self.store is not None:
            meta = torrent.metainfo
            self.store.update_torrent(
                torrent.info_hash, metainfo=to_torrent_bytes(meta), name=meta.name, summary=summary_text(meta),
                **({"paused": True, "stop_reason": StopReason.CHOOSE_FILES.name} if choose else {}),
            )
        self._update_lsd()
        self.emit(events.MetadataReceived(torrent.info_hash.hex(), torrent.name, choose_files=choose))

    # the session store

    async def _open_store(self, profile: Path) -> None:
        self.store, notice = await asyncio.to_thread(Store.open, profile / "piecemeal.db")
        if notice:
            log.warning("%s", notice)
            self.notices.append(notice)
        self.labels.load()
        resume = self.store.all_resume()
        built = []
        for record in self.store.torrents():
            try:
                torrent = self._restore(record, resume.get(record.info_hash))
            except EngineError as exc:
                self.notices.append(f"Could not restore '{record.name}': {exc}")
                continue
            if not torrent.dormant:
                built.append(torrent)
        # One trip to a thread for every built torrent's file stamps: start-up with 1,000 torrents.
        stamps = await asyncio.to_thread(lambda: [stamps_or_none(t.file_paths()) for t in built])
        for torrent, current in zip(built, stamps):
            record = resume.get(torrent.info_hash)
            if record is not None:
                trusted = current is not None and trustworthy(record, current, torrent.num_pieces)
                torrent.restore(record, trusted=trusted)
        await self._store_summaries([t for t in built if t.has_metadata])

    async def _store_summaries(self, torrents: list[Torrent]) -> None:
        """Torrents of a profile older than v7 get their summary: the next start-up is quick."""
        if self.store is None or not torrents:
            return
        summaries = {t.info_hash: summary_text(t.metainfo) for t in torrents}
        try:
            await asyncio.to_thread(self.store.set_summaries, summaries)
        except StorageError as exc:
            log.warning("could not save the torrents' summaries: %s", exc)

    def _restore(self, record: TorrentRecord, resume: ResumeRecord | None) -> Torrent:
        save_path = Path(record.save_path)
        reason = _restored_reason(record)
        summary = read_summary(record.summary) if record.metainfo else None
        if summary is not None and _may_sleep(summary, record, resume):
            dormant = Dormant(record.info_hash, record.metainfo, summary, resume)  # stands where it says
            torrent = Torrent(self, None, save_path, added_on=record.added_on, reason=reason, dormant=dormant)
        elif record.metainfo:
            torrent = Torrent(self, parse_metainfo(record.metainfo), save_path, added_on=record.added_on, reason=reason)
        else:
            magnet = parse_magnet(record.magnet)
            torrent = Torrent(self, None, save_path, added_on=record.added_on, magnet=magnet, reason=reason)
        # The id it was added by: a hybrid first known by its v2 hash (urn:btmh) keeps that one.
        torrent.info_hash = record.info_hash
        torrent.choose_files = record.choose_files
        self.controls.restore_options(torrent, record)
        self.labels.restore(torrent, record)
        self.torrents[torrent.info_hash] = torrent
        if torrent.dormant and resume is not None:
            torrent.restore(resume, trusted=False)  # its counters; wake() looks at the files
        return torrent

    async def save_resume(self) -> None:
        """Record which pieces are on disk: state first, then flush, then file stamps.

        A torrent whose flush or stamps fail keeps its last row: it must not claim pieces
        that may not be on the disk.
        """
        if self.store is None:
            return
        # A dormant torrent has not changed since its row was written: the row stays.
        awake = [t for t in self.torrents.values() if not t.dormant]
        for torrent in awake:
            self.heartbeat.settle(torrent)  # a sleeping torrent's seconds, counted up to now
        states = [t.resume_state() for t in awake if t.checked]
        flushes = await asyncio.gather(
            *(self.torrents[state.info_hash].storage.flush() for state in states), return_exceptions=True
        )
        flushed = [(state, torrent) for state, error in zip(states, flushes)
                   if (torrent := self._flushed(state, error)) is not None]
        records = await self._stamp_all(flushed)
        try:
            await asyncio.to_thread(self.store.save_resume_many, records)
        except StorageError as exc:
            log.warning("could not save resume data: %s", exc)

    async def _stamp_all(self, flushed: list[tuple[ResumeRecord, Torrent]]) -> list[ResumeRecord]:
        """Each state with its files' stamps. A torrent that wrote nothing and verified nothing
        since the last save keeps the stamps it had: its files were not changed by us, and a
        change by anyone else must still show at the next start. The others' stamps are taken
        in one job: 9,000 idle seeds are not 9,000 trips to a thread."""
        marks = {state.info_hash: (torrent.storage.writes, state.verified, torrent.save_path)
                 for state, torrent in flushed}
        known = {key: stamps for key, (mark, stamps) in self._stamped.items() if marks.get(key) == mark}
        changed = [torrent for state, torrent in flushed if state.info_hash not in known]
        taken = await asyncio.to_thread(lambda: [_stamps_or_error(t.file_paths()) for t in changed])
        for torrent, stamps in zip(changed, taken):
            if isinstance(stamps, StorageError):
                log.warning("resume data of %s not saved: %s", torrent.name, stamps)
            else:
                known[torrent.info_hash] = stamps
        self._stamped = {key: (marks[key], stamps) for key, stamps in known.items()}
        now = time.time()
        return [replace(state, file_stamps=known[state.info_hash], saved_at=now)
                for state, _ in flushed if state.info_hash in known]

    def _flushed(self, state: ResumeRecord, error: BaseException | None) -> Torrent | None:
        """The torrent whose data the state claims is on disk; None if removed or not flushed."""
        torrent = self.torrents.get(state.info_hash)
        if torrent is not None and error is not None:
            log.warning("resume data of %s not saved: %s", torrent.name, str(error) or type(error).__name__)
            return None
        return torrent

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.resume_interval)
            try:
                await self.save_resume()
            except Exception:  # a task boundary: one failed save must not end the saving
                log.exception("saving resume data failed")

    def _remember(self, torrent: Torrent, paused: bool) -> None:
        if self.store is None:
            return
        magnet = torrent.magnet
        self.store.save_torrent(TorrentRecord(
            info_hash=torrent.info_hash,
            metainfo=to_torrent_bytes(torrent.metainfo) if torrent.has_metadata else b"",
            summary=summary_text(torrent.metainfo) if torrent.has_metadata else "",
            magnet=_magnet_link(magnet) if magnet else "",
            save_path=str(torrent.save_path), paused=paused, added_on=torrent.added_on, name=torrent.name,
            file_priorities=torrent.options.file_priorities, sequential=torrent.options.sequential,
            down_limit=torrent.options.down_limit, up_limit=torrent.options.up_limit,
            queue_position=len(self.torrents), ratio_limit=torrent.options.ratio_limit,
            seed_time_limit=torrent.options.seed_time_limit, choose_files=torrent.choose_files,
            super_seeding=torrent.options.super_seeding,
            category=torrent.labels.category, tags=torrent.labels.tags,
        ))

    # commands

    async def add_torrent(
        self, source: bytes | str | Path | Metainfo, save_path: str | Path | None = None, *,
        paused: bool = False, choose_files: bool = False, category: str = "",
    ) -> str:
        """Add a .torrent (bytes, path, Metainfo) or a magnet link (a str starting with 'magnet:').

        `choose_files` (magnets): stop when the metadata arrives, so that the user can pick
        the files before any is downloaded (see `metadata_received`). `category`: a known
        one; without a `save_path`, the torrent is saved in the category's folder.
        """
        folder = Path(save_path) if save_path else self.labels.save_path(category, self.config.download_dir)
        reason = StopReason.USER if paused else None
        if isinstance(source, str) and source[:7].lower() == "magnet:":
            magnet = parse_magnet(source)
            torrent = Torrent(self, None, folder, magnet=magnet, reason=reason)
            torrent.choose_files = choose_files
        else:
            torrent = Torrent(self, _to_metainfo(source), folder, reason=reason)
        existing = self.torrents.get(torrent.info_hash)
        if existing is not None:
            self.touched(existing)
            raise DuplicateTorrentError(self._merge(existing, torrent))
        torrent.labels = Labels(category)
        self.torrents[torrent.info_hash] = torrent
        self._remember(torrent, paused)
        self._update_lsd()
        if not torrent.private:
            for service in self._lsd:
                service.announce_now()  # BEP 14: neighbours hear of it now, not at the next round
        self.emit(events.TorrentAdded(torrent.info_hash.hex(), torrent.name))
        if torrent.magnet is not None:
            torrent.add_peers(list(torrent.magnet.peers))  # x.pe hints
        if not paused:
            torrent.start()
        return torrent.info_hash.hex()

    def _merge(self, existing: Torrent, duplicate: Torrent) -> str:
        """qBittorrent's rule: a torrent added again brings its trackers and web seeds (a
        magnet, its peers too) to the one in the list, except to a private one. Returns what
        to tell the user."""
        already = f"'{existing.name}' is already in the list"
        if existing.private or duplicate.private:
            return f"{already}; it is private, so no trackers were merged into it"
        trackers, web_seeds = existing.merge(duplicate)
        added = [_count(n, noun) for n, noun in ((trackers, "new tracker"), (web_seeds, "new web seed")) if n]
        if not added:
            return f"{already}, with the same trackers"
        self._remember_sources(existing)
        return f"{already}; {' and '.join(added)} merged into it"

    def _remember_sources(self, torrent: Torrent) -> None:
        if self.store is None:
            return
        if torrent.has_metadata:
            meta = torrent.metainfo
            changes: dict[str, Any] = {"metainfo": to_torrent_bytes(meta), "summary": summary_text(meta)}
        else:
            magnet = torrent.magnet
            assert magnet is not None
            changes = {"magnet": _magnet_link(magnet)}
        try:
            self.store.update_torrent(torrent.info_hash, **changes)
        except StorageError as exc:
            log.warning("could not save the trackers and web seeds of %s: %s", torrent.name, exc)

    def magnet_uri(self, info_hash: str) -> str:
        torrent = self._get(info_hash)
        trackers = [url for tier in torrent.metainfo.trackers for url in tier] if torrent.has_metadata else []
        v2 = torrent.metainfo.info_hash_v2 if torrent.has_metadata else torrent.magnet and torrent.magnet.info_hash_v2
        # ws=, as libtorrent; BEP 52: xt=urn:btmh too for v2 and hybrid torrents
        return format_magnet(torrent.info_hash, torrent.name, trackers, torrent.web_seeds, info_hash_v2=v2)

    async def remove(self, info_hash: str, delete_files: bool = False) -> None:
        torrent = self._get(info_hash)
        del self.torrents[torrent.info_hash]
        if self.store is not None:
            self.store.remove_torrent(torrent.info_hash)
        await torrent.close()
        self._update_lsd()
        if delete_files and torrent.has_metadata:
            await torrent.storage.delete_files()
        self.emit(events.TorrentRemoved(info_hash))

    async def pause(self, info_hash: str) -> None:
        """Stop the torrent until resumed."""
        await self.pause_for(self._get(info_hash), StopReason.USER)

    async def pause_for(self, torrent: Torrent, reason: StopReason) -> None:
        """Stop it and say why (the user, a seeding goal); what the user would keep stopped
        stays stopped after a restart."""
        self._set_paused(torrent, reason if reason in USER_STOPS else None)
        await torrent.stop(reason)

    async def resume(self, info_hash: str) -> None:
        """Start it again: after a pause, an error (the verified pieces stay), the file choice."""
        torrent = self._get(info_hash)
        if torrent.choose_files and torrent.has_metadata:  # the files are chosen (or all are wanted)
            torrent.choose_files = False
            if self.store is not None:
                self.store.update_torrent(torrent.info_hash, choose_files=False)
        self._set_paused(torrent, None)
        torrent.first_announce_at = 0.0  # the user asked: no waiting for the restored ones' pace
        torrent.start()

    def _set_paused(self, torrent: Torrent, reason: StopReason | None) -> None:
        """The store's `paused` column and why: what the user stopped stays stopped after a restart."""
        if self.store is not None:
            self.store.update_torrent(
                torrent.info_hash, paused=reason is not None, stop_reason=reason.name if reason else ""
            )

    async def recheck(self, info_hash: str) -> None:
        await self._get(info_hash).recheck()

    async def set_file_priorities(self, info_hash: str, priorities: Sequence[int]) -> None:
        """One per file: 0 skip, 1 normal, 2 high. Skipped files are not downloaded."""
        self.controls.set_file_priorities(self._get(info_hash), priorities)

    async def set_sequential(self, info_hash: str, enabled: bool) -> None:
        """Download in order, first and last piece of each file first (to preview media)."""
        torrent = self._get(info_hash)
        self.controls.set_options(torrent, replace(torrent.options, sequential=enabled))

    async def stream_url(self, info_hash: str, file_index: int) -> str:
        """A 127.0.0.1 URL a media player can play the file from while it downloads."""
        torrent = self._get(info_hash)
        if not torrent.has_metadata or not 0 <= file_index < len(torrent.metainfo.files):
            raise EngineError(f"{torrent.name} has no file number {file_index} to play")
        if torrent.options.file_priority(file_index) == 0:
            raise EngineError(f"{torrent.metainfo.files[file_index].path[-1]} is skipped: tick it in the Files tab to play it")
        if self._streams is None:
            server = StreamServer(self.torrents.get)
            await server.start()
            self._streams = server
        return self._streams.url(torrent, file_index)

    async def _stop_streams(self) -> None:
        if self._streams is not None:
            await self._streams.close()

    async def set_options(self, info_hash: str, options: TorrentOptions) -> None:
        """All of a torrent's own options at once (what its options dialog shows)."""
        self.controls.set_options(self._get(info_hash), options)

    async def set_torrent_limits(self, info_hash: str, down: int, up: int) -> None:
        """The torrent's own limits in bytes per second (0: none); the session's apply too."""
        torrent = self._get(info_hash)
        self.controls.set_options(torrent, replace(torrent.options, down_limit=down, up_limit=up))

    async def move_storage(self, info_hash: str, new_dir: str | Path) -> None:
        """Copy the files to `new_dir` in the background; the torrent switches once all are there."""
        self.controls.move(self._get(info_hash), Path(new_dir))

    def move_status(self, info_hash: str) -> MoveStatus | None:
        return self.controls.move_status(self._get(info_hash).info_hash)

    def add_peer(self, info_hash: str, host: str, port: int) -> None:
        """Connect to a known peer (the CLI's --peer, peer hints, tests)."""
        self._get(info_hash).add_peers([(host, port)])

    async def add_peer_address(self, info_hash: str, address: str) -> None:
        """Connect to a peer the user names ("192.0.2.7:6881", "[2001:db8::7]:6881"); bad
        text, or a family the chosen address cannot reach, raises EngineError."""
        host, port = parse_peer_address(address)
        family = compact.address_family(host)
        if family is not None and family not in self.sockets.families:
            raise EngineError(
                f"Piecemeal is bound to {self.config.listen_host}, which cannot reach {address.strip()}."
            )
        self.add_peer(info_hash, host, port)

    async def add_web_seed(self, info_hash: str, url: str) -> None:
        """Add a BEP 19 web seed (an http or https URL of the file, or of the folder above the
        torrent's folder); remembered with the torrent. EngineError if the URL cannot be one."""
        torrent = self._get(info_hash)
        url = url.strip()
        if not is_web_seed_url(url):
            raise EngineError(f"'{url}' is not an http or https address.")
        if torrent.add_web_seed(url):
            self._remember_sources(torrent)

    async def add_category(self, name: str, save_path: str = "") -> None:
        """Add a category, or change the folder of one; new torrents in it are saved there."""
        self.labels.add_category(name, save_path)

    async def remove_category(self, name: str) -> None:
        """Its torrents stay, without a category."""
        self.labels.remove_category(name)
        self._shown.marked.update(self.torrents)

    async def set_category(self, info_hash: str, category: str) -> None:
        """A known category, or "" for none; the files stay where they are."""
        self.labels.set_category(self._get(info_hash), category)

    async def set_tags(self, info_hash: str, tags: Sequence[str]) -> None:
        """The torrent's whole set of tags; a new tag is remembered for the menus."""
        self.labels.set_tags(self._get(info_hash), list(tags))

    async def _add_watched(self, data: bytes, folder: WatchedFolder) -> str:
        """A watched folder's file: a torrent already in the list counts as added."""
        try:
            return await self.add_torrent(data, folder.save_path, category=folder.category)
        except DuplicateTorrentError as exc:
            self._tell(str(exc))
            return ""

    async def _add_from_feed(self, source: bytes | str, save_path: str, category: str) -> str:
        """An item a feed's rule took: one already in the list counts as added."""
        try:
            return await self.add_torrent(source, save_path or None, category=category)
        except DuplicateTorrentError as exc:
            self._tell(str(exc))
            return ""

    def _load_rss(self) -> Any:
        return None if self.store is None else self.store.get_setting("rss")

    def _save_rss(self, value: Any) -> None:
        if self.store is not None:
            self.store.set_setting("rss", value)

    # feeds (RSS and Atom) and their download rules

    def rss_snapshot(self) -> RssSnapshot:
        return self.rss.snapshot()

    async def add_feed(self, url: str) -> None:
        """Follow a feed; it is read at once, then at every refresh."""
        await self.rss.add_feed(url)

    async def remove_feed(self, url: str) -> None:
        self.rss.remove_feed(url)

    async def set_rss_rules(self, rules: Sequence[Rule]) -> None:
        """The whole list of download rules, in the order they are tried."""
        self.rss.set_rules(rules)

    async def refresh_feeds(self) -> None:
        await self.rss.refresh()

    def _tell(self, message: str) -> None:
        log.warning("%s", message)
        self.emit(events.Notice(message))

    def _finished_fields(self, info_hash: str) -> Finished | None:
        torrent = self.torrents.get(bytes.fromhex(info_hash))
        if torrent is None or not torrent.has_metadata:
            return None
        return Finished(
            name=torrent.name, content_path=str(torrent.save_path / torrent.metainfo.name),
            save_path=str(torrent.save_path), info_hash=info_hash, category=torrent.labels.category,
            tags=torrent.labels.tags, size=torrent.metainfo.total_length,
        )

    async def reannounce(self, info_hash: str) -> None:
        """Ask the torrent's trackers for peers now, whatever their interval says."""
        self._get(info_hash).trackers.announce_now()

    # reading the state

    def snapshot(self) -> SessionSnapshot:
        """Every torrent as it is now. Only the torrents that may have changed are looked at
        (busy ones, those something happened to, those whose tracker countdown moved on):
        with 10,000 idle seeds a snapshot costs what moves (issue 19). `changes(since)` then
        says which of them did."""
        self._refresh_book()
        busy = [t for t in map(self._book.get, self._shown.busy_hashes()) if t is not None]
        return SessionSnapshot(
            torrents=self._book.torrents(),
            down_rate=sum(t.down_rate for t in busy),  # a quiet torrent has no peer: no rate
            up_rate=sum(t.up_rate for t in busy),
            peers=sum(t.peers + t.seeds for t in busy),
            dht_nodes=self.dht.node_count if self.dht is not None else 0,
            listen_port=self.listen_port,
            blocked_connections=self.sockets.gate.blocked,
            ip_filter=self.sockets.gate.description,
            port_mapping=self.port_mapping_status(),
            incoming_connections=self.incoming_connections,
            categories=self.labels.book.categories,
            tags=self.labels.book.tags,
        )

    def changes(self, since: int) -> TorrentChanges:
        """The torrents whose snapshot changed after revision `since` (0: all of them), as of
        the last `snapshot()`; keep its `revision` for the next call."""
        return self._book.since(since)

    def touched(self, torrent: Torrent) -> None:
        """What the torrent shows changed outside its own events (a move's progress): the next
        snapshot looks at it."""
        self._shown.marked.add(torrent.info_hash)

    def _refresh_book(self) -> None:
        now, reach = time.monotonic(), self.reach()
        shown = self._shown
        if shown.reach_moved(reach):
            shown.marked.update(k for k, t in self.torrents.items() if t.state == TorrentState.DOWNLOADING)
        for key in shown.due(now):
            torrent = self.torrents.get(key)
            if torrent is None:
                self._book.forget(key.hex())
                shown.forget(key)
                continue
            snapshot = torrent.snapshot(reach)
            self._book.record(snapshot)
            shown.sort(key, snapshot, torrent.changing, now)
        if len(self._book) != len(self.torrents):
            self._reconcile_book(reach, now)

    def _reconcile_book(self, reach: Reach, now: float) -> None:
        """Torrents restored, or dropped at start-up, without an event: one walk, then none."""
        keys = {key.hex(): key for key in self.torrents}
        for info_hash in [h for h in self._book.hashes() if h not in keys]:
            self._book.forget(info_hash)
            self._shown.forget(bytes.fromhex(info_hash))
        for info_hash, key in keys.items():
            if info_hash not in self._book:
                torrent = self.torrents[key]
                snapshot = torrent.snapshot(reach)
                self._book.record(snapshot)
                self._shown.sort(key, snapshot, torrent.changing, now)

    def details(self, info_hash: str) -> TorrentDetails | None:
        torrent = self.torrents.get(bytes.fromhex(info_hash))
        if torrent is None:
            return None
        self.heartbeat.settle(torrent)  # its active and seeding time up to now, asleep or not
        return torrent.details(self.reach())

    def reach(self) -> Reach:
        """The proof that peers can reach us, for the speed diagnosis."""
        uptime = time.monotonic() - self.listening_since if self.listening_since is not None else None
        mapped = self.port_mapping_status().state == MapState.MAPPED
        return Reach(self.incoming_connections, mapped, uptime)

    async def free_space(self, folder: str | Path) -> int | None:
        """Free bytes on the disk of `folder` (or of its nearest existing parent); None if the
        OS cannot say. Asked in a thread: a network folder can take seconds to answer."""
        try:
            return await asyncio.to_thread(free_bytes, Path(folder))
        except OSError:
            return None

    def add_listener(self, callback: Callable[[events.Event], None]) -> None:
        self._listeners.append(callback)

    def emit(self, event: events.Event) -> None:
        info_hash = getattr(event, "info_hash", None)
        if isinstance(info_hash, str):
            self._shown.marked.add(bytes.fromhex(info_hash))  # its snapshot changed: look at it
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a listener's bug must not stop the engine
                log.exception("event listener failed on %r", event)

    # TorrentHost: what torrents ask of the session (app/engine/torrent.py)

    def throttle(self, reading_blocked: Callable[[], bool]) -> Throttle:
        return self.controls.limits.throttle(reading_blocked)

    def may_start(self, torrent: Torrent) -> bool:
        return self.controls.admit(torrent)

    async def room_to_write(self, torrent: Torrent, size: int) -> bool:
        return await self.controls.room_to_write(torrent, size)

    # connections (used by torrents and peers)

    def torrent_for(self, info_hash: bytes) -> Torrent | None:
        torrent = self.torrents.get(info_hash) or self._by_v2_hash(info_hash)
        if torrent is None or not torrent.accepts_peers:
            return None
        self.touched(torrent)  # a peer is coming: it will be busy
        return torrent

    def _by_v2_hash(self, info_hash: bytes) -> Torrent | None:
        """BEP 52: a v2 peer may greet a hybrid torrent with its truncated v2 info-hash."""
        return next((t for t in self.torrents.values() if _v2_id(t) == info_hash), None)

    def can_connect(self) -> bool:
        peers = self._connected_peers()
        return self._half_open < self.config.max_half_open and peers < self.config.max_peers

    def admit(self, peer: PeerConnection) -> bool:
        """May an accepted connection stay? max_peers counts peers and pending handshakes."""
        return self._hold(peer, peer.handshake_done)

    def _admit_stream(self, stream: AcceptStream) -> str | None:
        """Why an accepted connection may not stay, or None: asked before any byte is read."""
        if self.sockets.gate.refuses(stream.address[0]):
            return "blocked by the IP filter"
        return None if self._hold(stream, stream.done) else "too many connections"

    def _connected_peers(self) -> int:
        """Asked at every dial and in every snapshot: the awake torrents hold every peer, so
        10,000 idle seeds are not counted each time (issue 19)."""
        return sum(len(t.peers) for t in self.heartbeat.awake_torrents())

    def _hold(self, pending: PeerConnection | AcceptStream, done: asyncio.Future[Any]) -> bool:
        peers = self._connected_peers()
        if peers + len(self._handshaking) >= self.config.max_peers:
            return False
        self._handshaking.add(pending)
        done.add_done_callback(lambda _: self._handshaking.discard(pending))
        return True

    def connect(self, torrent: Torrent, address: tuple[str, int]) -> None:
        self.touched(torrent)  # dialling: busy until the peer is there or given up
        self._half_open += 1
        task = asyncio.ensure_future(self._connect(torrent, address))
        self._dialling.add(task)
        task.add_done_callback(self._dialling.discard)

    async def _connect(self, torrent: Torrent, address: tuple[str, int]) -> None:
        """Dial as the encryption policy says: "allow" tries MSE first and plaintext after it,
        or plaintext first for a peer that took only plaintext before (EncryptionMemory)."""
        failed = _DialFailure("no way to connect", connected=True)
        policy = Encryption(self.config.encryption)
        for attempt, encrypted in enumerate(self.encryption_memory.dial_order(policy, address)):
            if not failed.connected:
                break  # the peer is not there at all: no point in dialing it again another way
            if attempt:
                self._half_open += 1  # connect() counted the first attempt
            outcome = await self._dial(torrent, address, encrypted)
            if isinstance(outcome, PeerConnection):
                outcome = await self._await_handshake(outcome, encrypted)
            if outcome is None:
                self.encryption_memory.connected(policy, address, encrypted)
                return
            failed = outcome
        torrent.connect_failed(address, failed.reason)

    async def _dial(self, torrent: Torrent, address: tuple[str, int], encrypted: bool) -> PeerConnection | _DialFailure:
        """A connected peer, its MSE handshake done if `encrypted`; or why not."""
        def make_peer() -> PeerConnection:
            return PeerConnection(self, torrent, address)

        def make_stream() -> DialStream:
            initiator = Initiator(torrent.info_hash, METHODS[Encryption(self.config.encryption)])
            return DialStream(initiator, make_peer, MSE_TIMEOUT)

        factory: Callable[[], PeerConnection | DialStream] = make_stream if encrypted else make_peer
        try:
            order = dial_order(self.config.transport, speaks_utp=torrent.speaks_utp(address))
            _, protocol = await dial(order, self.utp, self.sockets, factory, address, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            return _DialFailure(_connect_reason(exc), connected=False)
        finally:
            self._half_open -= 1
        if isinstance(protocol, PeerConnection):
            return protocol
        try:
            return await protocol.done  # type: ignore[return-value]  # DialStream's own timer ends it
        except ConnectionError as exc:
            return _DialFailure(str(exc), connected=True)

    async def _await_handshake(self, peer: PeerConnection, encrypted: bool) -> _DialFailure | None:
        """None once the BitTorrent handshake came; else why not. A peer that hangs up on a
        plaintext handshake may want MSE: it may be dialed again (an MSE failure shows earlier)."""
        try:
            await asyncio.wait_for(asyncio.shield(peer.handshake_done), HANDSHAKE_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            peer.close(str(exc) or "no handshake")
            return _DialFailure(str(exc) or "no handshake", connected=not encrypted)
        return None

    def _incoming(self) -> AcceptStream:
        stream = AcceptStream(
            Encryption(self.config.encryption), self._accepting_info_hashes,
            lambda: self._take_over(stream), HANDSHAKE_TIMEOUT, admit=self._admit_stream,
        )
        return stream

    def _take_over(self, stream: AcceptStream) -> _IncomingPeer:
        self._handshaking.discard(stream)  # its place among the pending handshakes goes to the peer
        return _IncomingPeer(self)

    def _accepting_info_hashes(self) -> list[bytes]:
        accepting = [torrent for torrent in self.torrents.values() if torrent.accepts_peers]
        aliases = [_v2_id(torrent) for torrent in accepting]
        return [torrent.info_hash for torrent in accepting] + [alias for alias in aliases if alias]

    def _get(self, info_hash: str) -> Torrent:
        """The torrent a command is about: what it shows may change, and it may have work."""
        try:
            torrent = self.torrents[bytes.fromhex(info_hash)]
        except (KeyError, ValueError):
            raise UnknownTorrentError(f"no torrent with info-hash {info_hash}") from None
        self.touched(torrent)
        self.heartbeat.wake(torrent)
        return torrent


class _ShownTorrents:
    """Which torrents the next snapshot looks at (issue 19): those busy at the last one (their
    rates and progress move by themselves), those marked since (an event, a command, a peer
    coming), and quiet running ones whose tracker countdown moves on by then."""

    def __init__(self) -> None:
        self.marked: set[bytes] = set()
        self._busy: dict[bytes, None] = {}
        self._rechecks: list[tuple[float, bytes]] = []  # a heap by time
        self._recheck_at: dict[bytes, float] = {}
        self._reach: tuple[object, ...] = ()

    def busy_hashes(self) -> list[str]:
        return [key.hex() for key in self._busy]

    def reach_moved(self, reach: Reach) -> bool:
        """Whether what the diagnosis reads of the reach changed (it matters to downloads only)."""
        past_grace = reach.uptime is not None and reach.uptime >= REACH_GRACE
        shown = (bool(reach.incoming_connections), reach.port_mapped, past_grace and int(reach.uptime or 0) // 60)
        moved, self._reach = shown != self._reach, shown
        return moved

    def due(self, now: float) -> set[bytes]:
        due, self.marked = self.marked | self._busy.keys(), set()
        while self._rechecks and self._rechecks[0][0] <= now:
            at, key = heapq.heappop(self._rechecks)
            if self._recheck_at.get(key) == at:
                del self._recheck_at[key]
                due.add(key)
        return due

    def sort(self, key: bytes, snapshot: TorrentSnapshot, busy: bool, now: float) -> None:
        if busy:
            self._busy[key] = None
            return
        self._busy.pop(key, None)
        delay = _recheck_delay(snapshot)
        if delay is not None:
            self._recheck_at[key] = at = now + delay
            heapq.heappush(self._rechecks, (at, key))

    def forget(self, key: bytes) -> None:
        self._busy.pop(key, None)
        self._recheck_at.pop(key, None)


def _recheck_delay(snapshot: TorrentSnapshot) -> float | None:
    """When a quiet torrent's snapshot changes by the clock alone: its trackers' countdown
    moves to the next minute (an announce beginning or ending tells, see `touched`). None: never."""
    if snapshot.paused:
        return None
    waits = [t.next_announce % 60 for t in snapshot.trackers if t.next_announce is not None and t.next_announce != math.inf]
    return max(min(waits), 0.0) + 0.05 if waits else None


@dataclass(frozen=True, slots=True)
class _DialFailure:
    reason: str
    connected: bool  # the peer is there (the handshake failed): worth dialing again another way


class _IncomingPeer(PeerConnection):
    """An accepted connection: its torrent is known once the handshake arrives."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, None, ("", 0))
        self.session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        host, port = transport.get_extra_info("peername")[:2]
        self.address = (host, port)
        super().connection_made(transport)
        if not self.session.admit(self):
            self.close("too many connections")
            return
        # A connection that never finishes its handshake must not hold a slot for ever.
        timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT, self.close, "no handshake")
        self.handshake_done.add_done_callback(lambda _: timer.cancel())
        self.handshake_done.add_done_callback(self._count)

    def _count(self, handshake: asyncio.Future[None]) -> None:
        if not handshake.cancelled() and handshake.exception() is None:
            self.session.incoming_connections += 1


def _restored_reason(record: TorrentRecord) -> StopReason | None:
    """Why it was stopped when the app closed: the user, a seeding goal, the file choice."""
    if not record.paused:
        return None
    if record.choose_files and record.metainfo:  # a store from before stop_reason says it so
        return StopReason.CHOOSE_FILES
    return StopReason.__members__.get(record.stop_reason, StopReason.USER)


class SessionNetwork:
    """The session's listen port and HTTP client as they are now, for its torrents' trackers."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def port(self) -> int:
        return self._session.listen_port or 0

    @property
    def http(self) -> Mapping[int, aiohttp.ClientSession]:
        return self._session.http

    @property
    def sockets(self) -> Sockets:
        return self._session.sockets


# What a changed setting needs done, in this order (the listen socket first: if the new
# address cannot be used, nothing else has changed). Rate limits are updated after all.
_SETTING_REACTIONS: tuple[tuple[frozenset[str], Callable[[Session, SessionConfig], Awaitable[None]]], ...] = (
    (frozenset({"listen_host", "listen_port"}), Session._relisten),
    (frozenset({"listen_host"}), Session._new_http_client),
    (frozenset({"listen_host", "listen_port"}), Session._reopen_utp),
    (frozenset({"listen_host", "listen_port", "enable_dht", "dht_bootstrap", "enable_lsd"}),
     Session._restart_discovery),
    (frozenset({"max_peers", "max_half_open"}), Session._set_utp_limits),
    (frozenset({"upload_slots"}), Session._set_upload_slots),
    (frozenset({"ip_filter_path"}), Session._new_ip_filter),
    (frozenset({"banned_peers"}), Session._new_bans),
    (frozenset({"listen_host", "listen_port"}), Session._announce_address),
    (frozenset({"listen_host", "listen_port", "enable_dht", "dht_bootstrap", "enable_lsd", "port_mapping"}),
     Session._remap),  # after discovery: the DHT's UDP port may have changed with it
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _may_sleep(summary: MetainfoSummary, record: TorrentRecord, resume: ResumeRecord | None) -> bool:
    """May it be restored dormant? Its row must need no file list: every file wanted, and pad
    files (BEP 47) only when its progress is all or nothing (Torrent._dormant_snapshot)."""
    if SKIP in record.file_priorities:
        return False
    if not summary.padding_length or resume is None:
        return True
    claimed = Dormant(record.info_hash, b"", summary, resume).verified_bytes()
    return claimed in (0, summary.total_length)


def _to_metainfo(source: bytes | str | Path | Metainfo) -> Metainfo:
    if isinstance(source, Metainfo):
        return source
    if isinstance(source, bytes):
        return parse_metainfo(source)
    return load_metainfo(source)


def _connect_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _stamps_or_error(paths: list[Path]) -> tuple[tuple[int, int], ...] | StorageError:
    try:
        return file_stamps(paths)
    except StorageError as exc:
        return exc


def _magnet_link(magnet: Magnet) -> str:
    return format_magnet(
        magnet.info_hash, magnet.display_name, magnet.trackers, magnet.web_seeds, info_hash_v2=magnet.info_hash_v2
    )


def _v2_id(torrent: Torrent) -> bytes | None:
    """The truncated v2 info-hash of a hybrid torrent, which v2 peers may use to reach it."""
    v2 = torrent.info_hash_v2
    return v2[:20] if v2 is not None and v2[:20] != torrent.info_hash else None
