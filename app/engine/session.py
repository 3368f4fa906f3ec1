"""The engine's facade: commands in, snapshots and events out (DESIGN rule 3).

A session owns what its torrents share: our peer id, the listen socket, the thread pool for
disk and hashing, the HTTP client for trackers, and the connection limits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import platformdirs

from app.engine import events
from app.engine.errors import EngineError, StorageError
from app.engine.metainfo import Metainfo, load_metainfo, parse_metainfo, to_torrent_bytes
from app.engine.peer import PeerConnection
from app.engine.peer_id import make_peer_id
from app.engine.snapshots import SessionSnapshot, TorrentDetails
from app.engine.store import ResumeRecord, Store, TorrentRecord, file_stamps, trustworthy
from app.engine.torrent import Torrent

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 20.0


class DuplicateTorrentError(EngineError):
    """The torrent is already in the session (its trackers were merged)."""


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
    profile_dir: Path | None = None  # where the session store lives; None: nothing is remembered
    resume_interval: float = 30.0  # seconds between saves of resume data


def default_profile_dir() -> Path:
    return Path(platformdirs.user_data_dir("Piecemeal", appauthor=False))


class Session:
    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.peer_id = make_peer_id()
        self.executor = ThreadPoolExecutor(self.config.disk_threads, thread_name_prefix="disk")
        self.http: aiohttp.ClientSession | None = None
        self.listen_port: int | None = None
        self.torrents: dict[bytes, Torrent] = {}
        self._server: asyncio.Server | None = None
        self._listeners: list[Callable[[events.Event], None]] = []
        self._half_open = 0
        self.store: Store | None = None
        self._paused: dict[bytes, bool] = {}
        self.notices: list[str] = []  # things the user should read once (e.g. a damaged store)
        self._saver: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        if self.config.profile_dir is not None:
            await self._open_store(self.config.profile_dir)
        host = self.config.listen_host
        self._server = await asyncio.get_running_loop().create_server(
            self._incoming, host, self.config.listen_port, reuse_address=True
        )
        self.listen_port = self._server.sockets[0].getsockname()[1]
        log.info("listening on %s:%s", host, self.listen_port)
        for torrent in self.torrents.values():
            if not self._paused.get(torrent.info_hash, False):
                torrent.start()
        if self.store is not None:
            self._saver = asyncio.ensure_future(self._save_periodically())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._saver is not None:
            self._saver.cancel()
        await asyncio.gather(*(t.stop() for t in self.torrents.values()), return_exceptions=True)
        if self.store is not None:
            await self.save_resume()
            self.store.close()
            self.store = None
        if self.http is not None:
            await self.http.close()
        self.executor.shutdown(wait=True)

    # the session store

    async def _open_store(self, profile: Path) -> None:
        self.store, notice = await asyncio.to_thread(Store.open, profile / "piecemeal.db")
        if notice:
            log.warning("%s", notice)
            self.notices.append(notice)
        for record in self.store.torrents():
            try:
                await self._restore(record)
            except EngineError as exc:
                self.notices.append(f"Could not restore '{record.name}': {exc}")

    async def _restore(self, record: TorrentRecord) -> None:
        torrent = Torrent(self, parse_metainfo(record.metainfo), Path(record.save_path), added_on=record.added_on)
        resume = self.store.resume(torrent.info_hash) if self.store else None
        if resume is not None:
            stamps = await asyncio.to_thread(file_stamps, torrent.file_paths())
            good = trustworthy(resume, stamps, torrent.num_pieces)
            torrent.restore(resume.verified if good else None, resume.downloaded, resume.uploaded,
                            resume.active_seconds)
        self.torrents[torrent.info_hash] = torrent
        self._paused[torrent.info_hash] = record.paused

    async def save_resume(self) -> None:
        """Record which pieces are on disk: state first, then flush, then file stamps."""
        if self.store is None:
            return
        states = {ih: t.resume_state() for ih, t in self.torrents.items() if t.checked}
        await asyncio.gather(*(self.torrents[ih].storage.flush() for ih in states), return_exceptions=True)
        records = []
        for ih, (verified, down, up, active) in states.items():
            torrent = self.torrents.get(ih)
            if torrent is None:
                continue
            stamps = await asyncio.to_thread(file_stamps, torrent.file_paths())
            records.append(ResumeRecord(ih, verified, torrent.num_pieces, stamps, down, up, active, time.time()))
        try:
            await asyncio.to_thread(self.store.save_resume_many, records)
        except StorageError as exc:
            log.warning("could not save resume data: %s", exc)

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.resume_interval)
            await self.save_resume()

    def _remember(self, torrent: Torrent, paused: bool) -> None:
        if self.store is None:
            return
        meta = torrent.metainfo
        self.store.save_torrent(TorrentRecord(
            info_hash=meta.info_hash, metainfo=to_torrent_bytes(meta), magnet="", save_path=str(torrent.save_path),
            paused=paused, added_on=torrent.added_on, name=meta.name,
            file_priorities=(), sequential=False, down_limit=0, up_limit=0, queue_position=len(self.torrents),
        ))

    # commands

    async def add_torrent(
        self, source: bytes | str | Path | Metainfo, save_path: str | Path | None = None, *, paused: bool = False
    ) -> str:
        metainfo = _to_metainfo(source)
        existing = self.torrents.get(metainfo.info_hash)
        if existing is not None:
            raise DuplicateTorrentError(f"'{metainfo.name}' is already in the list")
        torrent = Torrent(self, metainfo, Path(save_path or self.config.download_dir))
        self.torrents[metainfo.info_hash] = torrent
        self._remember(torrent, paused)
        self.emit(events.TorrentAdded(metainfo.info_hash_hex, metainfo.name))
        if not paused:
            torrent.start()
        return metainfo.info_hash_hex

    async def remove(self, info_hash: str, delete_files: bool = False) -> None:
        torrent = self._get(info_hash)
        del self.torrents[torrent.info_hash]
        if self.store is not None:
            self.store.remove_torrent(torrent.info_hash)
        await torrent.stop()
        if delete_files:
            await torrent.storage.delete_files()
        self.emit(events.TorrentRemoved(info_hash))

    async def pause(self, info_hash: str) -> None:
        torrent = self._get(info_hash)
        self._set_paused(torrent, True)
        await torrent.stop()

    async def resume(self, info_hash: str) -> None:
        torrent = self._get(info_hash)
        self._set_paused(torrent, False)
        torrent.start()

    def _set_paused(self, torrent: Torrent, paused: bool) -> None:
        self._paused[torrent.info_hash] = paused
        if self.store is not None:
            self.store.update_torrent(torrent.info_hash, paused=paused)

    async def recheck(self, info_hash: str) -> None:
        await self._get(info_hash).recheck()

    def add_peer(self, info_hash: str, host: str, port: int) -> None:
        """Connect to a known peer (the CLI's --peer, peer hints, tests)."""
        self._get(info_hash).add_peers([(host, port)])

    # reading the state

    def snapshot(self) -> SessionSnapshot:
        torrents = tuple(t.snapshot() for t in self.torrents.values())
        return SessionSnapshot(
            torrents=torrents,
            down_rate=sum(t.down_rate for t in torrents),
            up_rate=sum(t.up_rate for t in torrents),
            peers=sum(t.peers + t.seeds for t in torrents),
            dht_nodes=0,
            listen_port=self.listen_port,
        )

    def details(self, info_hash: str) -> TorrentDetails | None:
        torrent = self.torrents.get(bytes.fromhex(info_hash))
        return torrent.details() if torrent is not None else None

    def add_listener(self, callback: Callable[[events.Event], None]) -> None:
        self._listeners.append(callback)

    def emit(self, event: events.Event) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a listener's bug must not stop the engine
                log.exception("event listener failed on %r", event)

    # connections (used by torrents and peers)

    def torrent_for(self, info_hash: bytes) -> Torrent | None:
        torrent = self.torrents.get(info_hash)
        return torrent if torrent is not None and torrent.accepts_peers else None

    def can_connect(self) -> bool:
        peers = sum(len(t.peers) for t in self.torrents.values())
        return self._half_open < self.config.max_half_open and peers < self.config.max_peers

    def connect(self, torrent: Torrent, address: tuple[str, int]) -> None:
        self._half_open += 1
        asyncio.ensure_future(self._connect(torrent, address))

    async def _connect(self, torrent: Torrent, address: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        bind = self.config.listen_host
        local = (bind, 0) if bind not in ("0.0.0.0", "::", "") else None
        try:
            _, peer = await asyncio.wait_for(
                loop.create_connection(
                    lambda: PeerConnection(self, torrent, address), *address, local_addr=local
                ),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:
            torrent.connect_failed(address, _connect_reason(exc))
            return
        finally:
            self._half_open -= 1
        try:
            await asyncio.wait_for(asyncio.shield(peer.handshake_done), HANDSHAKE_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            peer.close(str(exc) or "no handshake")
            torrent.connect_failed(address, str(exc) or "no handshake")

    def _incoming(self) -> PeerConnection:
        return _IncomingPeer(self)

    def _get(self, info_hash: str) -> Torrent:
        try:
            return self.torrents[bytes.fromhex(info_hash)]
        except (KeyError, ValueError):
            raise UnknownTorrentError(f"no torrent with info-hash {info_hash}") from None


class _IncomingPeer(PeerConnection):
    """An accepted connection: its torrent is known once the handshake arrives."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, None, ("", 0))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        host, port = transport.get_extra_info("peername")[:2]
        self.address = (host, port)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


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
