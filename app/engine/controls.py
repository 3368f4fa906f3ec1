"""The session's user controls: speed limits, the queue, seeding goals, the disk-space guard,
per-torrent options and moving a torrent's files.

The decisions are made by pure cores (rate_limit, queueing, disk_guard, torrent_options);
this is the asyncio glue that applies them to the session's torrents, once a second and
when a torrent asks (to start, to write a piece).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from app.engine.disk_guard import NO_SPACE, DiskGuard, enough_space
from app.engine.errors import EngineError, StorageError
from app.engine.mover import FileCopy, MoveCancelled, MoveStatus, copy_error
from app.engine.queueing import QueueEntry, QueueLimits, SeedingGoal, plan_queue, share_ratio
from app.engine.rate_limit import Limits, RateLimits, current_limits
from app.engine.snapshots import StopReason, TorrentState
from app.engine.storage.disk import Storage
from app.engine.storage.piece_verifier import verifier_for
from app.engine.store import TorrentRecord
from app.engine.ticker import Ticker
from app.engine.torrent_options import TorrentOptions, apply_options, check_file_priorities

if TYPE_CHECKING:
    from app.engine.session import Session
    from app.engine.torrent import Torrent

log = logging.getLogger(__name__)

TICK: Final = 1.0
DISK_CHECK_EVERY: Final = 2.0  # seconds between free-space checks of downloading torrents
RESUME_PIECES: Final = 4  # room for this many pieces above the reserve before a torrent goes on


class Controls:
    """One per session."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.limits = RateLimits()
        self.disk = DiskGuard()
        self.alt_active = False
        self._waiting_for_space: dict[bytes, tuple[Torrent, asyncio.Task[None]]] = {}  # -> the stop it caused
        self._moves: dict[bytes, FileCopy] = {}
        self._move_tasks: dict[bytes, asyncio.Task[None]] = {}
        self._ticker = Ticker(lambda: self.tick(time.monotonic()), lambda: TICK, log,
                              "the session's controls failed")
        self._next_disk_check = 0.0
        self._own_goals: dict[Torrent, None] = {}  # torrents with a seeding goal of their own
        self._maybe_queued = False  # a torrent may wait in the queue: the tick looks at the queue

    # lifecycle

    def start(self) -> None:
        self.update_limits(datetime.now())
        self._ticker.start()

    async def close(self) -> None:
        """Stop ticking; moves in progress stop at their next chunk and are undone."""
        await self._ticker.close()
        for job in self._moves.values():
            job.cancelled = True
        await asyncio.gather(*self._move_tasks.values(), return_exceptions=True)

    async def tick(self, now: float) -> None:
        self.update_limits(datetime.now())
        await self._seeding_goals()
        await self._apply_queue()
        if now >= self._next_disk_check:
            self._next_disk_check = now + DISK_CHECK_EVERY
            await self._check_disk(now)
        self._show_moves()

    # speed limits

    def update_limits(self, when: datetime) -> None:
        """The session's limits from its config: the alternative ones when switched on or scheduled."""
        config = self._session.config
        normal = Limits(config.down_limit, config.up_limit)
        alternative = Limits(config.alt_down_limit, config.alt_up_limit)
        limits = current_limits(normal, alternative, config.alt_limits_on, config.alt_schedule, when)
        self.alt_active = limits is alternative and normal != alternative
        self.limits.set(limits)

    # per-torrent options

    def set_options(self, torrent: Torrent, options: TorrentOptions) -> None:
        if options.down_limit < 0 or options.up_limit < 0:
            raise ValueError("a rate limit is a number of bytes per second, 0 for none")
        if any(goal is not None and goal < 0 for goal in (options.ratio_limit, options.seed_time_limit)):
            raise ValueError("a seeding goal is a ratio or a number of seconds, 0 for never")
        if options.file_priorities and torrent.num_pieces:
            check_file_priorities(options.file_priorities, len(torrent.metainfo.files))
        was_super_seeding, torrent.options = torrent.options.super_seeding, options
        self._note_goal(torrent)
        apply_options(torrent)
        if was_super_seeding and not options.super_seeding:
            torrent.stop_super_seeding()
        if torrent.num_pieces:
            torrent.wanted_changed()
        self._store_options(torrent)

    def set_file_priorities(self, torrent: Torrent, priorities: Sequence[int]) -> None:
        if not torrent.num_pieces:
            raise EngineError("the files are not known until the torrent's metadata arrives")
        checked = check_file_priorities(priorities, len(torrent.metainfo.files))
        self.set_options(torrent, replace(torrent.options, file_priorities=checked))

    def restore_options(self, torrent: Torrent, record: TorrentRecord) -> None:
        torrent.options = TorrentOptions.from_record(record)
        self._note_goal(torrent)
        apply_options(torrent)

    def _note_goal(self, torrent: Torrent) -> None:
        if torrent.options.ratio_limit is None and torrent.options.seed_time_limit is None:
            self._own_goals.pop(torrent, None)
        else:
            self._own_goals[torrent] = None

    def _store_options(self, torrent: Torrent) -> None:
        store = self._session.store
        if store is None:
            return
        options = torrent.options
        try:
            store.update_torrent(
                torrent.info_hash, file_priorities=options.file_priorities, sequential=options.sequential,
                down_limit=options.down_limit, up_limit=options.up_limit,
                ratio_limit=options.ratio_limit, seed_time_limit=options.seed_time_limit,
                super_seeding=options.super_seeding,
            )
        except (KeyError, StorageError) as exc:
            log.warning("could not save the options of %s: %s", torrent.info_hash.hex(), exc)

    # the queue

    def admit(self, torrent: Torrent) -> bool:
        """May the torrent start now? If not, it waits in the queue."""
        limits = self._queue_limits()
        if not limits.max_downloads and not limits.max_seeds:
            return True
        admitted = torrent.info_hash in plan_queue(self._queue_entries(torrent), limits).active
        self._maybe_queued |= not admitted
        return admitted

    def _queue_limits(self) -> QueueLimits:
        config = self._session.config
        return QueueLimits(config.max_active_downloads, config.max_active_seeds)

    def _queue_entries(self, candidate: Torrent | None = None) -> list[QueueEntry[bytes]]:
        torrents = list(self._session.torrents.values())
        if candidate is not None and candidate not in torrents:
            torrents.append(candidate)
        return [
            QueueEntry(t.info_hash, position, _complete(t), t.running)
            for position, t in enumerate(torrents)
            if t is candidate or t.running or t.reason == StopReason.QUEUED
        ]

    async def _apply_queue(self) -> None:
        limits = self._queue_limits()
        if not limits.max_downloads and not limits.max_seeds:
            # No limits (the default): nothing to do each second, unless some torrent still waits
            # from when there were (issue 19: 10,000 torrents are not walked for nothing).
            if not self._maybe_queued or not self._any_queued():
                self._maybe_queued = False
                return
        plan = plan_queue(self._queue_entries(), limits)
        self._maybe_queued = bool(plan.queue)
        torrents = self._session.torrents
        for key in plan.queue:
            await torrents[key].stop(StopReason.QUEUED)
        for key in plan.start:
            torrents[key].start()

    def _any_queued(self) -> bool:
        return any(t.reason == StopReason.QUEUED for t in self._session.torrents.values())

    # seeding goals

    async def _seeding_goals(self) -> None:
        config = self._session.config
        session_goal = SeedingGoal(config.seed_ratio_limit, config.seed_time_limit)
        # Without a session-wide goal only the torrents with their own are looked at (issue 19).
        has_goal = config.seed_ratio_limit > 0 or config.seed_time_limit > 0
        for torrent in list(self._session.torrents.values() if has_goal else self._own_goals):
            if self._session.torrents.get(torrent.info_hash) is not torrent:
                self._own_goals.pop(torrent, None)  # removed
                continue
            if not torrent.running or torrent.state != TorrentState.SEEDING:
                continue
            self._session.heartbeat.settle(torrent)  # a sleeping seed's seconds, up to now
            goal = session_goal.overridden(torrent.options.ratio_limit, torrent.options.seed_time_limit)
            ratio = share_ratio(torrent.total_uploaded, torrent.total_downloaded, torrent.metainfo.total_length)
            if goal.reached(ratio, torrent.seeding_seconds):
                log.info("%s reached its seeding goal", torrent.name)
                await self._session.pause_for(torrent, StopReason.SEEDING_GOAL)

    # the disk-space guard

    async def room_to_write(self, torrent: Torrent, size: int) -> bool:
        """Called before a piece is written: False (and the torrent pauses) if space is short."""
        reserve = self._session.config.disk_reserve
        if reserve <= 0:
            return True
        if await self.disk.room_for(torrent.save_path, size, reserve, time.monotonic()):
            return True
        self._wait_for_space(torrent)
        return False

    def _wait_for_space(self, torrent: Torrent) -> None:
        waiting = self._waiting_for_space.get(torrent.info_hash)
        if waiting is not None and waiting[0] is torrent and not waiting[1].done():
            return
        log.warning("%s paused: %s", torrent.name, NO_SPACE)
        # Not awaited here: the caller may be one of the torrent's writes, which stop() awaits.
        self._waiting_for_space[torrent.info_hash] = (torrent, torrent.stop_soon(StopReason.NO_SPACE))

    async def _check_disk(self, now: float) -> None:
        reserve = self._session.config.disk_reserve
        torrents = self._session.torrents
        downloading = [t for t in torrents.values() if _downloading(t)] if reserve > 0 else []
        for torrent in downloading:
            if not enough_space(await self.disk.free(torrent.save_path, now), 0, reserve):
                self._wait_for_space(torrent)
        for info_hash, (torrent, stopping) in list(self._waiting_for_space.items()):
            if torrents.get(info_hash) is not torrent:
                del self._waiting_for_space[info_hash]  # removed (perhaps added again since)
                continue
            if not stopping.done():
                continue
            if torrent.reason != StopReason.NO_SPACE:
                self._stop_waiting(torrent)  # the user paused it, or started it again
            elif await self._room_again(torrent, reserve, now):
                self._stop_waiting(torrent)
                torrent.start()

    async def _room_again(self, torrent: Torrent, reserve: int, now: float) -> bool:
        free = await self.disk.free(torrent.save_path, now)
        return enough_space(free, RESUME_PIECES * torrent.metainfo.piece_length, reserve)

    def _stop_waiting(self, torrent: Torrent) -> None:
        del self._waiting_for_space[torrent.info_hash]

    # moving storage

    def move(self, torrent: Torrent, destination: Path) -> None:
        """Start copying the torrent's files to `destination`; it switches once all are there."""
        if torrent.info_hash in self._move_tasks:
            raise StorageError(f"'{torrent.name}' is already being moved")
        destination = destination.absolute()
        if destination.resolve() == torrent.save_path.resolve():
            return
        pairs = [(torrent.save_path.joinpath(*p.parts), destination.joinpath(*p.parts)) for p in _relative(torrent)]
        job = self._moves[torrent.info_hash] = FileCopy(pairs, destination)
        task = self._move_tasks[torrent.info_hash] = asyncio.ensure_future(self._move(torrent, job))
        task.add_done_callback(lambda _: self._move_tasks.pop(torrent.info_hash, None))

    def move_status(self, info_hash: bytes) -> MoveStatus | None:
        job = self._moves.get(info_hash)
        return job.status() if job is not None else None

    async def _move(self, torrent: Torrent, job: FileCopy) -> None:
        torrent.note = "Moving"
        self._session.touched(torrent)
        try:
            await asyncio.to_thread(job.copy_all)
            if self._session.torrents.get(torrent.info_hash) is not torrent:
                raise MoveCancelled
            old_storage = await self._switch(torrent, job)
        except (OSError, StorageError, MoveCancelled) as exc:
            await asyncio.to_thread(job.undo)
            job.error = "The move was cancelled" if isinstance(exc, MoveCancelled) else copy_error(exc, job.destination)
            torrent.note = f"Move failed: {job.error}"
            self._session.touched(torrent)
            log.warning("moving %s: %s", torrent.name, job.error)
            return
        torrent.note = await self._forget_old_files(torrent, old_storage)
        self._session.touched(torrent)
        job.finished = True

    async def _switch(self, torrent: Torrent, job: FileCopy) -> Storage | None:
        """Seeding: swap to the new files at once. Downloading: stop, copy what changed, go on.

        Returns the storage of the old place, whose files are now copies.
        """
        if not torrent.num_pieces:
            self._use(torrent, job.destination, None)  # a magnet without metadata has no files yet
            return None
        old_storage = torrent.storage
        new_storage = Storage(
            torrent.metainfo, job.destination, self._session.executor, verifier=verifier_for(torrent.metainfo),
            open_files=self._session.open_files,
        )
        new_storage.set_skipped(torrent.options.skipped_files())
        if _seeding(torrent):
            await new_storage.open()
            await asyncio.to_thread(job.copy_changed)
        if _seeding(torrent) and not torrent.writing:
            self._use(torrent, job.destination, new_storage)  # no await since the check: no write slips in
            return old_storage
        async with torrent.suspended():
            await asyncio.to_thread(job.copy_changed)
            self._use(torrent, job.destination, new_storage)
        return old_storage

    async def _forget_old_files(self, torrent: Torrent, old_storage: Storage | None) -> str:
        """Delete the files left in the old place, record the new ones' stamps; "" or a warning."""
        warning = ""
        if old_storage is not None:
            try:
                await old_storage.delete_files()
            except StorageError as exc:  # the move itself succeeded: say so, keep going
                warning = f"Moved, but the old files could not all be deleted: {exc}"
                log.warning("moving %s: %s", torrent.name, exc)
        await self._session.save_resume()  # the new files' sizes and times vouch for the pieces
        return warning

    def _use(self, torrent: Torrent, destination: Path, storage: Storage | None) -> None:
        torrent.relocate(storage, destination)
        store = self._session.store
        if store is not None:
            try:
                store.update_torrent(torrent.info_hash, save_path=str(destination))
            except (KeyError, StorageError) as exc:
                log.warning("could not save the new folder of %s: %s", torrent.name, exc)

    def _show_moves(self) -> None:
        for info_hash in self._move_tasks:
            torrent = self._session.torrents.get(info_hash)
            status = self.move_status(info_hash)
            if torrent is not None and status is not None and not (status.finished or status.error):
                torrent.note = f"Moving {status.progress:.0%}"
                self._session.touched(torrent)


def _seeding(torrent: Torrent) -> bool:
    return torrent.running and torrent.state == TorrentState.SEEDING


def _downloading(torrent: Torrent) -> bool:
    return torrent.running and torrent.state == TorrentState.DOWNLOADING


def _complete(torrent: Torrent) -> bool:
    """Would it seed? (Unknown until checked: then it counts as a download.)"""
    if torrent.state == TorrentState.SEEDING:
        return True
    return bool(torrent.num_pieces) and torrent.checked and torrent.picker.is_complete()


def _relative(torrent: Torrent) -> list[Path]:
    if not torrent.num_pieces:
        return []
    files = [Path(*entry.path) for entry in torrent.metainfo.files if not entry.padding]
    return [*files, Path(torrent.storage.part_name)]  # skipped files' shared bytes go along (if any)
