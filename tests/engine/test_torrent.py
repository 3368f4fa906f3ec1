"""Torrent against a fake TorrentHost: real files in tmp_path, no sockets, no session.

A torrent with no trackers and no peers can still check what is on disk, seed it, stop,
take the blocks a stand-in source hands it, finish, and fail on its storage: every state
change is one event with its reason.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import random
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.engine import events
from app.engine.bitfield import Bitfield
from app.engine.creator import create_torrent
from app.engine.heartbeat import Heartbeat
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.piece_picker import Block
from app.engine.rate_limit import RateLimits, Throttle
from app.engine.snapshots import StopReason, TorrentState
from app.engine.sockets import Sockets
from app.engine.storage.disk import OpenFiles
from app.engine.store import ResumeRecord
from app.engine.session import Session
from app.engine.torrent import Torrent, TorrentHost, _Candidate
from app.engine.torrent_options import SKIP, TorrentOptions, apply_options
from app.engine.wire import extension as ext

PIECE = 32 * 1024
SIZES = {"a.bin": 2 * PIECE, "b.bin": 2 * PIECE}  # piece-aligned: b.bin is pieces 2 and 3
WAIT = 10.0  # seconds before a wait fails the test; nothing here should come near it


@dataclass(frozen=True, slots=True)
class FakeConfig:
    max_peers_per_torrent: int = 50
    upload_slots: int = 4
    max_unwritten: int = 64 * 1024 * 1024
    enable_pex: bool = True


@dataclass(frozen=True, slots=True)
class FakeNetwork:
    """What trackers would take from the session; a torrent without trackers never asks."""

    port: int = 0
    http: None = None
    sockets: Sockets = field(default_factory=lambda: Sockets("127.0.0.1"))


@dataclass
class FakeHost:
    """A TorrentHost that records what the torrent asks and tells; the test sets its answers."""

    executor: ThreadPoolExecutor
    config: FakeConfig = field(default_factory=FakeConfig)
    peer_id: bytes = b"-PM0001-testtesttest"
    listen_port: int | None = None
    network: FakeNetwork = field(default_factory=FakeNetwork)
    dht: None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    open_files: OpenFiles = field(default_factory=OpenFiles)
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    admitting: bool = True  # the queue's answer
    room: bool = True  # the disk guard's answer
    events: list[events.Event] = field(default_factory=list)
    limits: RateLimits = field(default_factory=RateLimits)
    _waiters: list[tuple[Callable[[events.Event], bool], asyncio.Future[events.Event]]] = field(default_factory=list)

    def throttle(self, reading_blocked: Callable[[], bool]) -> Throttle:
        return self.limits.throttle(reading_blocked)

    def may_start(self, torrent: Torrent) -> bool:
        return self.admitting

    async def room_to_write(self, torrent: Torrent, size: int) -> bool:
        if not self.room:
            torrent.stop_soon(StopReason.NO_SPACE)  # what the session's disk guard does
        return self.room

    def can_connect(self) -> bool:
        return True

    def connect(self, torrent: Torrent, address: tuple[str, int]) -> None:
        raise AssertionError(f"a torrent without peers dialled {address}")

    def metadata_received(self, torrent: Torrent) -> None:
        raise AssertionError("metadata received by a torrent made from its metainfo")

    def touched(self, torrent: Torrent) -> None:
        pass  # no snapshots are kept here: the tests ask the torrent itself

    def emit(self, event: events.Event) -> None:
        self.events.append(event)
        for wanted, future in list(self._waiters):
            if not future.done() and wanted(event):
                future.set_result(event)

    def changes(self) -> list[tuple[TorrentState, StopReason | None]]:
        return [(e.state, e.reason) for e in self.events if isinstance(e, events.StateChanged)]

    async def until(self, wanted: Callable[[events.Event], bool], what: str) -> events.Event:
        """The first event, past or coming, that `wanted` accepts."""
        for event in self.events:
            if wanted(event):
                return event
        future: asyncio.Future[events.Event] = asyncio.get_running_loop().create_future()
        self._waiters.append((wanted, future))
        try:
            async with asyncio.timeout(WAIT):
                return await future
        except TimeoutError:
            pytest.fail(f"no event for {what} within {WAIT} s; events: {self.events}")

    async def until_state(self, state: TorrentState, reason: StopReason | None = None) -> events.Event:
        return await self.until(
            lambda e: isinstance(e, events.StateChanged) and (e.state, e.reason) == (state, reason),
            f"{state} ({reason})",
        )


@dataclass(eq=False)
class Source:
    """Stands in for a peer that has every piece and unchokes us: what request_blocks reads."""

    pieces: Bitfield
    peer_choking: bool = False
    suggested: tuple[int, ...] = ()
    allowed_fast: frozenset[int] = frozenset()
    asked: list[Block] = field(default_factory=list)  # what the torrent requested, not yet sent


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(2, thread_name_prefix="disk")
    yield pool
    pool.shutdown(wait=True)


@pytest.fixture
def host(executor: ThreadPoolExecutor) -> FakeHost:
    return FakeHost(executor)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    folder = tmp_path / "seed" / "payload"
    folder.mkdir(parents=True)
    generator = random.Random(3)
    for name, size in SIZES.items():
        (folder / name).write_bytes(generator.randbytes(size))
    return folder


@pytest.fixture
def metainfo(payload: Path) -> Metainfo:
    return parse_metainfo(create_torrent(payload, piece_length=PIECE))


@pytest.fixture
async def made(host: FakeHost) -> AsyncIterator[Callable[..., Torrent]]:
    """Torrents on the fake host, closed at the end of the test."""
    torrents: list[Torrent] = []

    def make(metainfo: Metainfo, save_path: Path, reason: StopReason | None = None) -> Torrent:
        torrent = Torrent(host, metainfo, save_path, reason=reason)
        torrents.append(torrent)
        return torrent

    yield make
    for torrent in torrents:
        await torrent.close()


def piece_data(payload: Path, piece: int) -> bytes:
    whole = b"".join((payload / name).read_bytes() for name in SIZES)
    return whole[piece * PIECE : (piece + 1) * PIECE]


async def hand_piece(torrent: Torrent, source: Source, piece: int, data: bytes) -> None:
    """The source sends one whole piece, block by block, as the torrent asked for it."""
    source.asked += torrent.request_blocks(source, 64)
    blocks = [b for b in source.asked if b.piece == piece]
    assert blocks, f"piece {piece} was not requested"
    source.asked = [b for b in source.asked if b.piece != piece]
    for block in blocks:
        torrent.block_received(source, block, memoryview(data)[block.offset : block.offset + block.length])
    await asyncio.gather(*torrent._verifying)


def joined(torrent: Torrent) -> Source:
    source = Source(Bitfield.full(torrent.num_pieces))
    torrent.picker.peer_joined(source.pieces)
    return source


# -- states: start, check, seed, stop --------------------------------------------------


async def test_a_torrent_added_paused_waits_without_a_word(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent, StopReason.USER)
    snapshot = torrent.snapshot()
    assert (snapshot.state, snapshot.reason, snapshot.paused) == (TorrentState.CHECKING, StopReason.USER, True)
    assert snapshot.status_text == "Paused"
    assert not torrent.running and host.events == []


async def test_start_checks_the_files_on_disk_then_seeds(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent)
    assert (torrent.state, torrent.reason) == (TorrentState.CHECKING, None)  # where a start begins
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    assert host.changes() == [(TorrentState.SEEDING, None)]  # one event: CHECKING was no change
    snapshot = torrent.snapshot()
    assert (snapshot.progress, snapshot.status_text, snapshot.paused) == (1.0, "Seeding", False)


async def test_start_without_the_files_downloads(made, host, metainfo, tmp_path) -> None:
    torrent = made(metainfo, tmp_path / "out")
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    assert torrent.snapshot().progress == 0.0 and torrent.accepts_peers


async def test_a_pause_keeps_where_it_stands_and_a_start_needs_no_new_check(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent)
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    await torrent.stop()
    assert (torrent.state, torrent.reason, torrent.running) == (TorrentState.SEEDING, StopReason.USER, False)
    assert torrent.snapshot().status_text == "Paused" and not torrent.accepts_peers
    host.events.clear()
    torrent.start()
    await host.until(lambda e: isinstance(e, events.StateChanged), "the start")
    assert host.changes() == [(TorrentState.SEEDING, None)]  # checked already: no CHECKING


async def test_the_first_run_announces_with_the_tracker_manager_made_with_it(made, host, metainfo, payload) -> None:
    """10,000 restored torrents build one manager each, not two (issue 19); a stopped one
    stays stopped, so the next run gets a new one."""
    torrent = made(metainfo, payload.parent)
    first = torrent.trackers
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    assert torrent.trackers is first and first.started
    await torrent.stop()
    torrent.start()
    try:
        async with asyncio.timeout(WAIT):
            while torrent.trackers is first:
                await asyncio.sleep(0.01)  # the run task reaches its announces
    except TimeoutError:
        pytest.fail("the second run announced with the stopped tracker manager")
    assert not first.fresh and torrent.trackers.started


async def test_a_stop_says_why_and_a_later_reason_does_not_replace_it(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent)
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    await torrent.stop(StopReason.SEEDING_GOAL)
    assert torrent.snapshot().status_text == "Seeding goal reached"
    assert type(host.events[-1]) is events.SeedingGoalReached  # the one event of that change
    await torrent.stop_soon(StopReason.NO_SPACE)  # e.g. a write settling during the stop
    assert torrent.reason == StopReason.SEEDING_GOAL
    await torrent.stop(StopReason.USER)  # the user's word replaces any
    assert torrent.reason == StopReason.USER
    assert host.changes()[-2:] == [
        (TorrentState.SEEDING, StopReason.SEEDING_GOAL), (TorrentState.SEEDING, StopReason.USER),
    ]


async def test_close_is_no_state_change(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent)
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    count = len(host.events)
    await torrent.close()
    assert len(host.events) == count and not torrent.running


async def test_the_queue_holds_a_torrent_back_until_it_may_start(made, host, metainfo, payload) -> None:
    host.admitting = False
    torrent = made(metainfo, payload.parent)
    torrent.start()
    assert (torrent.reason, torrent.running) == (StopReason.QUEUED, False)
    assert torrent.snapshot().status_text == "Queued"
    host.admitting = True
    torrent.start()
    await host.until_state(TorrentState.SEEDING)
    assert host.changes() == [
        (TorrentState.CHECKING, StopReason.QUEUED), (TorrentState.CHECKING, None), (TorrentState.SEEDING, None),
    ]


async def test_trusted_resume_data_says_seeding_before_any_start(made, host, metainfo, payload) -> None:
    torrent = made(metainfo, payload.parent, StopReason.USER)
    verified = Bitfield.full(metainfo.num_pieces).to_bytes()
    torrent.restore(ResumeRecord(metainfo.info_hash, verified, metainfo.num_pieces, (), 0, 0, 0.0, 0.0, 0.0), True)
    assert (torrent.state, torrent.reason, torrent.checked) == (TorrentState.SEEDING, StopReason.USER, True)


async def test_a_recheck_checks_again_without_a_pause(made, host, metainfo, payload, tmp_path) -> None:
    out = tmp_path / "out"
    torrent = made(metainfo, out)
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    (out / "payload").mkdir(parents=True, exist_ok=True)
    for name in SIZES:
        os.replace(payload / name, out / "payload" / name)  # the files arrive by other means
    host.events.clear()
    await torrent.recheck()
    await host.until_state(TorrentState.SEEDING)
    assert host.changes() == [(TorrentState.CHECKING, None), (TorrentState.SEEDING, None)]


# -- completion -------------------------------------------------------------------------


async def test_verified_pieces_complete_the_torrent_once(made, host, metainfo, payload, tmp_path) -> None:
    torrent = made(metainfo, tmp_path / "out")
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    source = joined(torrent)
    for piece in range(metainfo.num_pieces):
        await hand_piece(torrent, source, piece, piece_data(payload, piece))
    finished = await host.until(lambda e: isinstance(e, events.TorrentFinished), "the finish")
    assert (finished.state, finished.reason, finished.name) == (TorrentState.SEEDING, None, "payload")
    assert [e for e in host.events if isinstance(e, events.TorrentFinished)] == [finished]
    assert (tmp_path / "out" / "payload" / "b.bin").read_bytes() == (payload / "b.bin").read_bytes()


async def test_a_piece_that_fails_its_hash_is_wanted_again(made, host, metainfo, payload, tmp_path) -> None:
    torrent = made(metainfo, tmp_path / "out")
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    source = joined(torrent)
    await hand_piece(torrent, source, 0, bytes(PIECE))
    assert 0 not in torrent.picker.have and torrent.state == TorrentState.DOWNLOADING
    await hand_piece(torrent, source, 0, piece_data(payload, 0))
    assert 0 in torrent.picker.have


async def test_skipping_what_is_missing_finishes_it(made, host, metainfo, payload, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "payload").mkdir(parents=True)
    os.replace(payload / "a.bin", out / "payload" / "a.bin")  # only the first file is there
    torrent = made(metainfo, out)
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    torrent.options = TorrentOptions(file_priorities=(1, SKIP))
    apply_options(torrent)
    torrent.wanted_changed()
    finished = await host.until(lambda e: isinstance(e, events.TorrentFinished), "the finish")
    assert finished.state == TorrentState.SEEDING and torrent.snapshot().progress == 1.0


async def test_a_paused_torrent_only_says_where_it_now_stands(made, host, metainfo, payload, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "payload").mkdir(parents=True)
    os.replace(payload / "a.bin", out / "payload" / "a.bin")
    torrent = made(metainfo, out)
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    await torrent.stop()
    torrent.options = TorrentOptions(file_priorities=(1, SKIP))
    apply_options(torrent)
    torrent.wanted_changed()
    assert (torrent.state, torrent.reason) == (TorrentState.SEEDING, StopReason.USER)
    assert not any(isinstance(e, events.TorrentFinished) for e in host.events)  # nothing was downloaded


# -- errors and the disk guard --------------------------------------------------------------


async def test_a_storage_failure_stops_it_with_the_message_and_a_start_tries_again(
    made, host, metainfo, tmp_path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_bytes(b"a file where the torrent's folder should be")
    torrent = made(metainfo, blocked)
    torrent.start()
    failed = await host.until(lambda e: isinstance(e, events.TorrentErrored), "the error")
    assert (failed.state, failed.reason) == (TorrentState.CHECKING, StopReason.ERROR)
    assert failed.message and "Traceback" not in failed.message
    snapshot = torrent.snapshot()
    assert (snapshot.reason, snapshot.error) == (StopReason.ERROR, failed.message)
    assert snapshot.status_text == f"Error: {failed.message}"
    assert not torrent.running and not torrent.accepts_peers
    blocked.unlink()
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    assert torrent.error == ""


async def test_no_room_to_write_keeps_the_piece_unwritten_and_stops_it(made, host, metainfo, payload, tmp_path) -> None:
    torrent = made(metainfo, tmp_path / "out")
    torrent.start()
    await host.until_state(TorrentState.DOWNLOADING)
    host.room = False
    await hand_piece(torrent, joined(torrent), 0, piece_data(payload, 0))
    await host.until_state(TorrentState.DOWNLOADING, StopReason.NO_SPACE)
    assert 0 not in torrent.picker.have and not torrent.running
    assert torrent.snapshot().status_text == "Waiting for disk space"


# -- the declared host --------------------------------------------------------------------

HOST_METHODS = sorted(
    name for name, value in vars(TorrentHost).items() if inspect.isfunction(value) and not name.startswith("_")
)
HOST_VALUES = sorted({*TorrentHost.__annotations__, "config"})


def _shape(function: object) -> list[tuple[str, object, bool]]:
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("host_type", [Session, FakeHost])
@pytest.mark.parametrize("name", HOST_METHODS)
def test_the_session_and_the_fake_have_each_host_method(host_type: type, name: str) -> None:
    wanted, given = getattr(TorrentHost, name), getattr(host_type, name)
    assert inspect.iscoroutinefunction(given) == inspect.iscoroutinefunction(wanted)
    assert _shape(given) == _shape(wanted)


def test_the_session_and_the_fake_have_each_host_value(host: FakeHost) -> None:
    session = Session()
    try:
        for name in HOST_VALUES:
            assert hasattr(session, name) and hasattr(host, name), name
        for name in ("max_peers_per_torrent", "upload_slots", "max_unwritten", "enable_pex"):
            assert hasattr(session.config, name) and hasattr(host.config, name), name
    finally:
        session.executor.shutdown()


async def test_an_idle_seed_says_when_its_tick_next_has_work(made, metainfo: Metainfo, payload: Path) -> None:
    """Issue 19: a seed with no peer, dial or web seed is not ticked until its own timers say."""
    torrent = made(metainfo, payload.parent)
    assert torrent.sleeps_until(0.0) == math.inf  # no DHT, no peer to dial again: only a wake
    torrent.candidates[("127.0.0.1", 6881)] = _Candidate(failures=1, not_before=30.0)
    assert torrent.sleeps_until(0.0) == 30.0
    assert torrent.sleeps_until(30.0) is None  # the retry is due: it has work


async def test_pex_marks_the_peers_that_speak_utp(made, host, metainfo: Metainfo, payload: Path) -> None:
    """BEP 11: added.f 0x04 (uTP) makes a peer one to dial over uTP first; other flags do not,
    and a later message without the flag does not take it back."""
    host.network = FakeNetwork(sockets=Sockets(""))  # unbound: IPv6 peers are kept too
    torrent = made(metainfo, payload.parent, StopReason.USER)  # paused: nothing is dialed
    utp, seed, plain, utp6 = ("10.0.0.1", 1), ("10.0.0.2", 2), ("10.0.0.3", 3), ("::1", 4)
    message = ext.PexMessage(added=(utp, seed, plain), added_flags=bytes([ext.PEX_UTP | ext.PEX_SEED, ext.PEX_SEED, 0]),
                             added6=(utp6,), added6_flags=bytes([ext.PEX_UTP]))
    torrent.pex_received(None, message)  # type: ignore[arg-type]  # the sender plays no part
    torrent.pex_received(None, ext.PexMessage(added=(utp,), added_flags=b"\0"))  # type: ignore[arg-type]
    torrent.pex_received(None, ext.PexMessage(added=(("10.0.0.4", 5),)))  # type: ignore[arg-type]  # no flags at all
    assert {address: torrent.speaks_utp(address) for address in torrent.candidates} == {
        utp: True, seed: False, plain: False, ("10.0.0.4", 5): False,
    } | ({utp6: True} if socket.has_ipv6 else {})
