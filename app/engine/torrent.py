"""One torrent's life: checking, downloading, seeding; its peers, pieces and trackers.

The torrent owns the shared state its peers work on: the piece picker (what to request),
the piece buffers (blocks received but not yet verified), the disk (verify and write off
the loop), the choker (whom to serve) and the tracker manager (where peers come from).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine import events
from app.engine.bitfield import Bitfield
from app.engine.choker import ChokeCandidate, Choker
from app.engine.errors import EngineError, StorageError
from app.engine.metainfo import Metainfo
from app.engine.peer import PeerConnection
from app.engine.piece_picker import Block, PiecePicker
from app.engine.snapshots import (
    FileSnapshot,
    PeerSnapshot,
    PieceState,
    TorrentDetails,
    TorrentSnapshot,
    TorrentState,
)
from app.engine.storage.disk import Storage
from app.engine.storage.layout import Layout
from app.engine.tracker.manager import TrackerManager
from app.engine.wire import messages as m

if TYPE_CHECKING:
    from app.engine.session import Session

log = logging.getLogger(__name__)

TICK = 1.0
SNUB_AFTER = 30.0  # seconds without a block while requests are in flight
IDLE_TIMEOUT = 150.0  # BEP 3 peers send keep-alives every two minutes
KEEP_ALIVE_AFTER = 90.0
RETRY_DELAYS = (5.0, 30.0, 120.0)  # after the 1st, 2nd, 3rd failed connection; then forget it
HASH_STRIKES = 2  # a peer that contributed to this many failed pieces is banned
FAILED_FLASH = 3.0  # seconds the UI shows a piece as hash-failed
READ_CACHE_BYTES = 32 * 1024 * 1024
SPARE_BUFFERS = 16


@dataclass(slots=True)
class _Candidate:
    """An address we may connect to, and how it went last time."""

    failures: int = 0
    not_before: float = 0.0


class Torrent:
    def __init__(
        self, session: Session, metainfo: Metainfo, save_path: Path, *, added_on: float | None = None
    ) -> None:
        self.session = session
        self.metainfo = metainfo
        self.info_hash = metainfo.info_hash
        self.num_pieces = metainfo.num_pieces
        self.save_path = save_path
        self.added_on = added_on if added_on is not None else time.time()
        self.layout = Layout(metainfo.piece_length, [f.length for f in metainfo.files])
        self.storage = Storage(metainfo, save_path, session.executor)
        self.picker = PiecePicker(self.num_pieces, metainfo.piece_length, metainfo.total_length)
        self.choker = Choker(session.config.upload_slots)
        self.trackers = self._make_trackers()
        self.state = TorrentState.PAUSED
        self.error = ""
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
        self._buffers: dict[int, bytearray] = {}
        self._spare: list[bytearray] = []  # piece-sized buffers kept for reuse: no page faults
        self._unwritten = 0
        self._reading_paused = False
        self._failed_at: dict[int, float] = {}
        self._file_done = [0] * len(metainfo.files)
        self._read_cache: OrderedDict[int, bytes] = OrderedDict()
        self._reads: dict[int, asyncio.Future[bytes]] = {}
        self._task: asyncio.Task[None] | None = None
        self._verifying: set[asyncio.Task[None]] = set()

    # commands

    def start(self) -> None:
        if self._task is None:
            self.error = ""
            self._task = asyncio.ensure_future(self._run())

    async def stop(self, state: TorrentState = TorrentState.PAUSED) -> None:
        """Disconnect, tell the trackers, settle pending writes, close the files."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for peer in list(self.peers):
            peer.close("torrent stopped")
        await asyncio.gather(*self._verifying, return_exceptions=True)
        await self.trackers.stop()
        try:
            await self.storage.flush()
        except StorageError as exc:
            log.warning("torrent %s: %s", self.metainfo.name, exc)
        await self.storage.close()
        self._buffers.clear()
        self._spare.clear()
        self._read_cache.clear()
        if self.state != TorrentState.ERROR or state == TorrentState.PAUSED:
            self.state = state

    async def recheck(self) -> None:
        running = self._task is not None
        await self.stop()
        self.picker = PiecePicker(self.num_pieces, self.metainfo.piece_length, self.metainfo.total_length)
        self._file_done = [0] * len(self.metainfo.files)
        self.checked = False
        if running:
            self.start()

    def add_peers(self, addresses: list[tuple[str, int]]) -> None:
        for address in addresses:
            if address[0] not in self.banned and address not in self.candidates:
                self.candidates[address] = _Candidate()
        if self.state in (TorrentState.DOWNLOADING, TorrentState.SEEDING):
            self._connect_more(time.monotonic())

    # resume data (DESIGN: a piece is claimed only after its data is written)

    def resume_state(self) -> tuple[bytes, int, int, float]:
        """Verified pieces and counters right now; take it BEFORE flushing and stamping files."""
        return self.picker.have.to_bytes(), self.total_downloaded, self.total_uploaded, self.active_seconds

    def file_paths(self) -> list[Path]:
        return [self.save_path.joinpath(*f.path) for f in self.metainfo.files]

    def restore(self, verified: bytes | None, downloaded: int, uploaded: int, active_seconds: float) -> None:
        """Counters from resume data, and the verified pieces when the caller found them
        trustworthy (files unchanged since): then nothing is hashed at start."""
        self.downloaded, self.uploaded, self.active_seconds = downloaded, uploaded, active_seconds
        if verified is not None:
            for piece in Bitfield.from_bytes(verified, self.num_pieces):
                self._mark_verified(piece)
            self.checked = True

    # the run loop

    async def _run(self) -> None:
        try:
            await self._check()
            self.trackers = self._make_trackers()
            self.trackers.start()
            last = time.monotonic()
            while True:
                await asyncio.sleep(TICK)
                now = time.monotonic()
                self._tick(now, now - last)
                last = now
        except StorageError as exc:
            self._fail(str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a task boundary: log it, show it, keep the session alive
            log.exception("torrent %s failed", self.metainfo.name)
            self._fail(f"internal error: {exc}")

    async def _check(self) -> None:
        await self.storage.open()
        if not self.checked:
            self.state = TorrentState.CHECKING
            self.check_progress = 0.0
            verified = await self.storage.check(progress=self._on_check_progress)
            for piece in verified:
                self._mark_verified(piece)
            self.checked = True
        self.state = TorrentState.SEEDING if self.picker.is_complete() else TorrentState.DOWNLOADING
        self._connect_more(time.monotonic())

    def _on_check_progress(self, done: int, total: int) -> None:
        self.check_progress = done / total if total else 1.0

    def _tick(self, now: float, elapsed: float) -> None:
        self.active_seconds += elapsed
        for peer in list(self.peers):
            peer.tick(elapsed)
            self._police(peer, now)
        if self.choker.due(now):
            self._rechoke(now)
        self._connect_more(now)
        self._failed_at = {p: t for p, t in self._failed_at.items() if now - t < FAILED_FLASH}

    def _police(self, peer: PeerConnection, now: float) -> None:
        if now - peer.last_received > IDLE_TIMEOUT:
            peer.close("the peer stopped responding")
        elif peer.outstanding and now - peer.last_piece > SNUB_AFTER:
            self.blocks_returned(peer, peer.abort_requests())  # snubbed: let others fetch them
        elif now - peer.last_sent > KEEP_ALIVE_AFTER:
            peer.send(m.KeepAlive())

    def _connect_more(self, now: float) -> None:
        limit = self.session.config.max_peers_per_torrent
        for address, candidate in list(self.candidates.items()):
            if len(self.peers) + len(self.connecting) >= limit or not self.session.can_connect():
                return
            if candidate.not_before > now or address in self.connecting or self._connected_to(address):
                continue
            self.connecting.add(address)
            self.session.connect(self, address)

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
        log.warning("torrent %s: %s", self.metainfo.name, message)
        self.state = TorrentState.ERROR
        self.error = message
        for peer in list(self.peers):
            peer.close("torrent stopped by an error")
        self.session.emit(events.TorrentErrored(self.info_hash.hex(), message))

    # PeerOwner: called by our peers

    def peer_ready(self, peer: PeerConnection) -> None:
        self.connecting.discard(peer.address)
        if peer.address[0] in self.banned:
            peer.close("banned for sending bad data")
            return
        if len(self.peers) >= self.session.config.max_peers_per_torrent:
            peer.close("too many peers for this torrent")
            return
        self.peers[peer] = None
        if not peer.incoming and peer.address in self.candidates:
            self.candidates[peer.address].failures = 0
        if self.choker_has_room():
            self._rechoke(time.monotonic())

    def peer_closed(self, peer: PeerConnection, reason: str) -> None:
        if peer not in self.peers:
            return
        del self.peers[peer]
        log.debug("peer %s left: %s", peer.address_text, reason)
        self.downloaded += peer.down.total
        self.uploaded += peer.up.total
        if peer.pieces is not None:
            self.picker.peer_left(peer.pieces)
        self.picker.peer_gone(peer)
        if not peer.incoming and peer.address in self.candidates:
            self.connect_failed(peer.address, reason)

    def peer_pieces_changed(self, peer: PeerConnection, new: Bitfield | int) -> None:
        if isinstance(new, int):
            self.picker.peer_has(new)
            wanted = new not in self.picker.have and self.state == TorrentState.DOWNLOADING
            if wanted and not peer.am_interested:
                peer.set_interested(self.picker.interesting(peer.pieces))  # type: ignore[arg-type]
            return
        self.picker.peer_joined(new)
        if self.state == TorrentState.SEEDING and peer.is_seed:
            peer.close("both sides are seeds")
            return
        peer.set_interested(self.state == TorrentState.DOWNLOADING and self.picker.interesting(new))

    def request_blocks(self, peer: PeerConnection, count: int) -> list[Block]:
        if self.state != TorrentState.DOWNLOADING or peer.pieces is None or self._reading_paused:
            return []
        return self.picker.pick(peer, peer.pieces, count)

    def block_received(self, peer: PeerConnection, block: Block, data: memoryview) -> None:
        accepted, others = self.picker.block_received(peer, block)
        if not accepted:
            return  # a late duplicate from the endgame, or a block nobody asked for
        buffer = self._buffers.get(block.piece)
        if buffer is None:
            buffer = self._buffers[block.piece] = self._new_buffer(block.piece)
            self._unwritten += len(buffer)
        buffer[block.offset : block.offset + block.length] = data
        for other in others:
            if isinstance(other, PeerConnection):
                other.cancel(block)  # endgame: someone else was fetching it too
        if self.picker.piece_state(block.piece) == PieceState.WRITING:
            del self._buffers[block.piece]
            task = asyncio.ensure_future(self._verify(block.piece, buffer))
            self._verifying.add(task)
            task.add_done_callback(self._verifying.discard)
        self._apply_backpressure()

    def blocks_returned(self, peer: PeerConnection, blocks: list[Block]) -> None:
        for block in blocks:
            self.picker.abort(peer, block)

    def interest_changed(self, peer: PeerConnection) -> None:
        if peer.peer_interested and self.choker_has_room():
            self._rechoke(time.monotonic())
        elif not peer.peer_interested and not peer.am_choking:
            self._rechoke(time.monotonic())

    def valid_request(self, request: m.Request) -> bool:
        return (
            request.index in self.picker.have
            and request.begin + request.length <= self.metainfo.piece_size(request.index)
        )

    async def read_block(self, index: int, begin: int, length: int) -> memoryview:
        """Blocks are served from whole pieces read once and kept in a small cache."""
        piece = self._read_cache.get(index)
        if piece is None:
            piece = await self._read_piece(index)
        else:
            self._read_cache.move_to_end(index)
        return memoryview(piece)[begin : begin + length]

    def cached_block(self, index: int, begin: int, length: int) -> memoryview | None:
        piece = self._read_cache.get(index)
        return None if piece is None else memoryview(piece)[begin : begin + length]

    def prefetch(self, index: int) -> None:
        if index not in self._read_cache and index not in self._reads:
            task = asyncio.ensure_future(self._read_piece(index))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # errors surface in read_block

    def our_bitfield(self) -> Bitfield:
        return self.picker.have

    # verification and writing

    async def _verify(self, piece: int, buffer: bytearray) -> None:
        try:
            ok = await self.storage.verify_and_write(piece, buffer)
        except StorageError as exc:
            self.picker.piece_failed(piece)
            self._fail(str(exc))
            return
        finally:
            self._unwritten -= len(buffer)
            if len(buffer) == self.metainfo.piece_length and len(self._spare) < SPARE_BUFFERS:
                self._spare.append(buffer)
            self._apply_backpressure()
        if ok:
            self._piece_verified(piece)
        else:
            self._piece_failed(piece)

    def _new_buffer(self, piece: int) -> bytearray:
        size = self.metainfo.piece_size(piece)
        if size == self.metainfo.piece_length and self._spare:
            return self._spare.pop()
        return bytearray(size)

    def _mark_verified(self, piece: int) -> None:
        self.picker.mark_have(piece)
        self._count_file_bytes(piece)

    def _count_file_bytes(self, piece: int) -> None:
        for span in self.layout.piece_spans(piece):
            self._file_done[span.file_index] += span.length

    def _piece_verified(self, piece: int) -> None:
        self.picker.piece_verified(piece)
        self._count_file_bytes(piece)
        for peer in self.peers:
            if peer.pieces is None or piece not in peer.pieces:
                peer.have(piece)
        if self.picker.is_complete() and self.state == TorrentState.DOWNLOADING:
            self._finished()

    def _piece_failed(self, piece: int) -> None:
        self._failed_at[piece] = time.monotonic()
        for culprit in self.picker.piece_failed(piece):
            if not isinstance(culprit, PeerConnection):
                continue
            host = culprit.address[0]
            self.strikes[host] = self.strikes.get(host, 0) + 1
            if self.strikes[host] >= HASH_STRIKES:
                self.banned.add(host)
                self.candidates.pop(culprit.address, None)
                culprit.close("sent data that failed the hash check")

    def _finished(self) -> None:
        self.state = TorrentState.SEEDING
        self.trackers.completed()
        for peer in list(self.peers):
            peer.set_interested(False)
            if peer.is_seed:
                peer.close("both sides are seeds")
        self.session.emit(events.TorrentFinished(self.info_hash.hex(), self.metainfo.name))

    def _apply_backpressure(self) -> None:
        """Stop reading from peers while too much received data waits for the disk."""
        limit = self.session.config.max_unwritten
        pause = self._unwritten > limit
        if pause == self._reading_paused or (not pause and self._unwritten > limit // 2):
            return
        self._reading_paused = pause
        for peer in self.peers:
            if peer.transport is not None:
                (peer.transport.pause_reading if pause else peer.transport.resume_reading)()
                if not pause:
                    peer.fill_pipeline()

    async def _read_piece(self, index: int) -> bytes:
        pending = self._reads.get(index)
        if pending is not None:
            return await asyncio.shield(pending)
        future = self._reads[index] = asyncio.get_running_loop().create_future()
        try:
            data = await self.storage.read(index, 0, self.metainfo.piece_size(index))
            future.set_result(data)
        except EngineError as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._reads[index]
        self._read_cache[index] = data
        while len(self._read_cache) * self.metainfo.piece_length > READ_CACHE_BYTES and len(self._read_cache) > 1:
            self._read_cache.popitem(last=False)
        return data

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

    def _make_trackers(self) -> TrackerManager:
        return TrackerManager(
            self.metainfo.trackers,
            info_hash=self.info_hash,
            peer_id=self.session.peer_id,
            port=self.session.listen_port or 0,
            stats=self._tracker_stats,
            on_peers=self.add_peers,
            http=self.session.http,
        )

    def _tracker_stats(self) -> tuple[int, int, int]:
        return self.total_uploaded, self.total_downloaded, self.picker.wanted_left

    # reading the state

    @property
    def accepts_peers(self) -> bool:
        """Checked and running: our bitfield is final, so a handshake can be answered."""
        return self._task is not None and self.state in (TorrentState.DOWNLOADING, TorrentState.SEEDING)

    @property
    def total_downloaded(self) -> int:
        return self.downloaded + sum(p.down.total for p in self.peers)

    @property
    def total_uploaded(self) -> int:
        return self.uploaded + sum(p.up.total for p in self.peers)

    def snapshot(self) -> TorrentSnapshot:
        meta = self.metainfo
        verified = meta.total_length - self._missing_bytes()
        down = sum(p.down.rate for p in self.peers)
        up = sum(p.up.rate for p in self.peers)
        seeds = sum(1 for p in self.peers if p.is_seed)
        downloaded = self.total_downloaded
        left = self.picker.wanted_left
        eta = left / down if self.state == TorrentState.DOWNLOADING and down > 0 else None
        return TorrentSnapshot(
            info_hash=self.info_hash.hex(),
            name=meta.name,
            state=self.state,
            progress=verified / meta.total_length if meta.total_length else 1.0,
            total_size=meta.total_length,
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
            piece_length=meta.piece_length,
            save_path=str(self.save_path),
            added_on=self.added_on,
            trackers=self.trackers.snapshot(),
            error=self.error,
            status_text=self._status_text(),
        )

    def _missing_bytes(self) -> int:
        return sum(f.length - done for f, done in zip(self.metainfo.files, self._file_done))

    def _status_text(self) -> str:
        texts: dict[TorrentState, Callable[[], str]] = {
            TorrentState.CHECKING: lambda: f"Checking {self.check_progress:.0%}",
            TorrentState.ERROR: lambda: f"Error: {self.error}",
            TorrentState.DOWNLOADING: lambda: self._active_text("Downloading"),
            TorrentState.SEEDING: lambda: self._active_text("Seeding"),
        }
        return texts.get(self.state, lambda: self.state.value.capitalize())()

    def _active_text(self, word: str) -> str:
        if not self.peers and self.trackers.status_text:
            return f"{word} — {self.trackers.status_text}"
        return word

    def details(self) -> TorrentDetails:
        states = bytearray(self.picker.states_bytes())
        for piece in self._failed_at:
            if states[piece] != PieceState.VERIFIED:
                states[piece] = PieceState.FAILED
        return TorrentDetails(
            info_hash=self.info_hash.hex(),
            peers=tuple(self._peer_snapshot(p) for p in self.peers),
            files=tuple(
                FileSnapshot("/".join(f.path), f.length, done, 1)
                for f, done in zip(self.metainfo.files, self._file_done)
            ),
            pieces=bytes(states),
            availability=self.picker.availability_bytes(),
            time_active=self.active_seconds,
            comment=self.metainfo.comment,
            private=self.metainfo.private,
        )

    def _peer_snapshot(self, peer: PeerConnection) -> PeerSnapshot:
        progress = peer.pieces.count / self.num_pieces if peer.pieces is not None else 0.0
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
        )


def _peer_flags(peer: PeerConnection) -> str:
    """qBittorrent's letters: D/d downloading or interested-but-choked, U/u likewise up, I incoming."""
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
    return " ".join(flags)

