"""The engine's facade: commands in, snapshots and events out (DESIGN rule 3).

A session owns what its torrents share: our peer id, the listen socket, the thread pool for
disk and hashing, the HTTP client for trackers, and the connection limits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import platformdirs

from app.engine import events
from app.engine.errors import EngineError
from app.engine.metainfo import Metainfo, load_metainfo, parse_metainfo
from app.engine.peer import PeerConnection
from app.engine.peer_id import make_peer_id
from app.engine.snapshots import SessionSnapshot, TorrentDetails
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

    # lifecycle

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        host = self.config.listen_host
        self._server = await asyncio.get_running_loop().create_server(
            self._incoming, host, self.config.listen_port, reuse_address=True
        )
        self.listen_port = self._server.sockets[0].getsockname()[1]
        log.info("listening on %s:%s", host, self.listen_port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(t.stop() for t in self.torrents.values()), return_exceptions=True)
        if self.http is not None:
            await self.http.close()
        self.executor.shutdown(wait=True)

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
        self.emit(events.TorrentAdded(metainfo.info_hash_hex, metainfo.name))
        if not paused:
            torrent.start()
        return metainfo.info_hash_hex

    async def remove(self, info_hash: str, delete_files: bool = False) -> None:
        torrent = self._get(info_hash)
        del self.torrents[torrent.info_hash]
        await torrent.stop()
        if delete_files:
            await torrent.storage.delete_files()
        self.emit(events.TorrentRemoved(info_hash))

    async def pause(self, info_hash: str) -> None:
        await self._get(info_hash).stop()

    async def resume(self, info_hash: str) -> None:
        self._get(info_hash).start()

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
