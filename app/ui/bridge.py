"""The one place the UI talks to the engine (DESIGN rule 3).

EngineBridge polls the session's `snapshot()` on a timer, diffs it by info-hash and emits
Qt signals; user commands go the other way as coroutines on the qasync loop. An EngineError
from a command becomes a `failed` signal carrying the engine's own sentence: the user
reads words, never a traceback.

Widgets and dialogs get the bridge, never the session: it is known here only as an
EngineSession (app/ui/engine_session.py), so a remote session can take the local one's place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.engine.errors import EngineError, MetainfoError
from app.engine.events import (
    Event,
    MetadataReceived,
    Notice,
    TorrentAdded,
    TorrentErrored,
    TorrentFinished,
    TorrentRemoved,
)
from app.engine.metainfo import load_metainfo
from app.engine.rss.rules import Rule
from app.engine.rss.service import RssSnapshot
from app.engine.snapshots import SessionSnapshot, TorrentDetails, TorrentSnapshot
from app.ui.engine_session import EngineSession
from app.ui.settings import ADDRESS_FIELDS
from app.ui.speed_history import SESSION, SpeedHistory
from app.ui.torrent_diff import diff_changes

if TYPE_CHECKING:
    from app.engine.metainfo import Metainfo
    from app.engine.torrent_options import TorrentOptions

log = logging.getLogger(__name__)

# Files read per worker-thread trip when many are added at once: small enough that the window
# runs again within a frame or two, large enough that the trips cost little.
ADD_BATCH = 50

EMPTY_SNAPSHOT = SessionSnapshot(
    torrents=(), down_rate=0.0, up_rate=0.0, peers=0, dht_nodes=0, listen_port=None
)


class EngineBridge(QObject):
    """Signals:
    torrents_changed(TorrentDiff): rows to add, change and remove since the last tick.
    session_changed(SessionSnapshot): the whole snapshot, at every tick.
    details_changed(TorrentDetails): peers, files and pieces of the selected torrent.
    torrent_finished(str, str): info-hash and name of a torrent that completed.
    torrent_errored(str, str): info-hash and the reason.
    metadata_received(str, str, bool): info-hash, name, and whether the torrent stopped for
        the user to choose its files, once a magnet's metadata arrived.
    files_added(int): how many of the files of a bulk add are done so far.
    free_space_measured(str, object): a folder, and the free bytes there (None: unknown).
    notice(str): something the engine wants the user to read (a watched folder's bad file).
    failed(str, str): what the user asked for, and why it could not be done.
    """

    torrents_changed = Signal(object)
    files_added = Signal(int)
    session_changed = Signal(object)
    details_changed = Signal(object)
    torrent_finished = Signal(str, str)
    torrent_errored = Signal(str, str)
    metadata_received = Signal(str, str, bool)
    free_space_measured = Signal(str, object)
    notice = Signal(str)
    failed = Signal(str, str)

    def __init__(
        self,
        session: EngineSession,
        interval_ms: int = 500,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._clock = clock
        self._torrents: dict[str, TorrentSnapshot] = {}
        self._revision = 0  # of the session's torrents, as last seen (0: not yet)
        self._snapshot = EMPTY_SNAPSHOT
        self._selected: str | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._measuring = False
        self.speed_history = SpeedHistory()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)
        # Several events in a row (a batch of adds) coalesce into one extra refresh.
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.refresh)
        self._event_handlers: dict[type, Callable[[Any], None]] = {
            TorrentAdded: lambda e: self._refresh_soon(),
            TorrentRemoved: lambda e: self._refresh_soon(),
            TorrentFinished: lambda e: self.torrent_finished.emit(e.info_hash, e.name),
            TorrentErrored: lambda e: self.torrent_errored.emit(e.info_hash, e.message),
            MetadataReceived: lambda e: self.metadata_received.emit(
                e.info_hash, e.name, e.choose_files
            ),
            Notice: lambda e: self.notice.emit(e.message),
        }
        self._heard: list[EngineSession] = []
        self._listen(session)

    # Polling

    def start(self) -> None:
        self.refresh()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._soon.stop()

    def refresh(self) -> None:
        """One tick: snapshot, the torrents changed since the last one, signals; then the
        selected torrent's details. With 10,000 torrents it touches only those that changed."""
        snapshot = self._session.snapshot()
        changes = self._session.changes(self._revision)
        self._revision = changes.revision
        now = self._clock()
        diff = diff_changes(self._torrents, changes)
        self._snapshot = snapshot
        if diff:
            for info_hash in diff.removed:
                del self._torrents[info_hash]
                self.speed_history.forget(info_hash)
            for torrent in diff.added + diff.changed:
                self._torrents[torrent.info_hash] = torrent
                self.speed_history.record(
                    torrent.info_hash, now, torrent.down_rate, torrent.up_rate
                )
            self.torrents_changed.emit(diff)
        self.speed_history.record(SESSION, now, snapshot.down_rate, snapshot.up_rate)
        self.session_changed.emit(snapshot)
        self._refresh_details()

    def now(self) -> float:
        return self._clock()

    def use_session(self, session: EngineSession) -> None:
        """Talk to another session from now on (local or remote): its torrents replace the old
        session's in the models at the next tick; commands still running finish on the old one."""
        polling = self._timer.isActive()
        self.stop()
        self._session = session
        self._revision = 0  # its torrents replace the old session's, in full
        self._selected = None
        self.speed_history = SpeedHistory()
        self._listen(session)
        if polling:
            self.start()

    def _listen(self, session: EngineSession) -> None:
        """Hear each session once; an event from a session no longer shown is dropped."""
        if not any(heard is session for heard in self._heard):
            self._heard.append(session)
            session.add_listener(lambda event: self._on_event(event) if session is self._session else None)

    @property
    def snapshot(self) -> SessionSnapshot:
        return self._snapshot

    def torrent(self, info_hash: str) -> TorrentSnapshot | None:
        return self._torrents.get(info_hash)

    def torrents(self) -> Iterable[TorrentSnapshot]:
        return self._torrents.values()

    @property
    def selected(self) -> str | None:
        return self._selected

    def select(self, info_hash: str | None) -> None:
        """Poll the details of this torrent (None: of none) from now on."""
        if info_hash != self._selected:
            self._selected = info_hash
            self._refresh_details()

    def magnet_uri(self, info_hash: str) -> str:
        return self._session.magnet_uri(info_hash)

    def details(self, info_hash: str) -> TorrentDetails | None:
        """The torrent's files, peers and options now, None if it is gone."""
        return self._session.details(info_hash)

    def measure_free_space(self, folder: Path) -> None:
        """Ask for the free space in `folder`; `free_space_measured` brings the answer.

        The session asks the disk off the GUI thread. One question at a time: a slow
        network folder must not pile up waiting threads.
        """
        if not self._measuring:
            self._measuring = True
            self.run(self._measure(folder), "Could not measure the free space")

    # Commands

    def add_torrent(
        self,
        source: Metainfo | Path | bytes | str,
        save_path: Path,
        *,
        paused: bool,
        title: str,
        priorities: Sequence[int] = (),
        choose_files: bool = False,
        category: str = "",
    ) -> asyncio.Future[Any]:
        """Add a torrent (a magnet link as a str); `priorities`, one per file, if any is not 1.

        `choose_files`, for a magnet link: stop once the metadata arrives, for the user to choose.
        """
        return self.run(
            self._add(source, save_path, paused, priorities, choose_files, category), title
        )

    def add_torrent_files(
        self, paths: Sequence[Path], save_path: Path, *, paused: bool
    ) -> asyncio.Future[Any]:
        """Add many .torrent files with the same choices, read in batches off the GUI thread.

        A thousand files dropped at once must not freeze the window: each batch is read and
        parsed in a worker thread, and the loop (so the window) runs between batches. The files
        that could not be added are named in one message at the end.
        """
        return self.run(self._add_files(list(paths), save_path, paused), "Could not add some torrents")

    def start_with_files(self, info_hash: str, priorities: Sequence[int]) -> asyncio.Future[Any]:
        """The files of a magnet chosen: set their priorities, then start the torrent."""
        return self.run(
            self._start_with_files(info_hash, priorities), f"Could not start {self._name(info_hash)}"
        )

    def set_file_priorities(self, info_hash: str, priorities: Sequence[int]) -> None:
        self.run(
            self._session.set_file_priorities(info_hash, priorities),
            f"Could not change which files of {self._name(info_hash)} to download",
        )

    def add_peer(self, info_hash: str, address: str) -> asyncio.Future[Any]:
        """Connect the torrent to a peer the user typed ("[2001:db8::7]:6881" for IPv6)."""
        return self.run(
            self._session.add_peer_address(info_hash, address),
            f"Could not add the peer {address.strip()} to {self._name(info_hash)}",
        )

    def pause(self, info_hashes: Iterable[str]) -> None:
        for info_hash in info_hashes:
            self.run(self._session.pause(info_hash), f"Could not pause {self._name(info_hash)}")

    def resume(self, info_hashes: Iterable[str]) -> None:
        for info_hash in info_hashes:
            self.run(self._session.resume(info_hash), f"Could not start {self._name(info_hash)}")

    def recheck(self, info_hashes: Iterable[str]) -> None:
        for info_hash in info_hashes:
            self.run(self._session.recheck(info_hash), f"Could not recheck {self._name(info_hash)}")

    def remove(self, info_hashes: Iterable[str], *, delete_files: bool) -> None:
        for info_hash in info_hashes:
            self.run(
                self._session.remove(info_hash, delete_files=delete_files),
                f"Could not remove {self._name(info_hash)}",
            )

    def set_options(self, info_hash: str, options: TorrentOptions) -> None:
        self.run(
            self._session.set_options(info_hash, options),
            f"Could not change the options of {self._name(info_hash)}",
        )

    def move_storage(self, info_hash: str, folder: Path) -> None:
        """Copy the torrent's files to `folder` in the background; it switches once all are there."""
        self.run(
            self._session.move_storage(info_hash, folder), f"Could not move {self._name(info_hash)}"
        )

    def stream_url(self, info_hash: str, file_index: int) -> asyncio.Future[Any]:
        """The URL a player streams the file from while it downloads (its pieces hurried)."""
        return self.run(
            self._session.stream_url(info_hash, file_index), f"Could not play a file of {self._name(info_hash)}"
        )

    def add_web_seed(self, info_hash: str, url: str) -> asyncio.Future[Any]:
        """A BEP 19 web seed for the torrent, kept with it; it shows in the Peers tab."""
        return self.run(
            self._session.add_web_seed(info_hash, url),
            f"Could not add the web seed to {self._name(info_hash)}",
        )

    def add_category(self, name: str, folder: str) -> asyncio.Future[Any]:
        """A new category (or a new folder for one); "" folder: the download folder."""
        return self.run(self._session.add_category(name, folder), f"Could not add the category “{name}”")

    def remove_category(self, name: str) -> None:
        self.run(self._session.remove_category(name), f"Could not remove the category “{name}”")

    def set_category(self, info_hashes: Iterable[str], category: str) -> None:
        for info_hash in info_hashes:
            self.run(
                self._session.set_category(info_hash, category),
                f"Could not set the category of {self._name(info_hash)}",
            )

    def set_tag(self, info_hashes: Iterable[str], tag: str, *, on: bool) -> None:
        """Put `tag` on the torrents (on=True) or take it off, keeping their other tags."""
        for info_hash in info_hashes:
            torrent = self._torrents.get(info_hash)
            tags = set(torrent.tags if torrent is not None else ())
            tags = tags | {tag} if on else tags - {tag}
            self.run(
                self._session.set_tags(info_hash, sorted(tags)),
                f"Could not change the tags of {self._name(info_hash)}",
            )

    # Feeds (RSS and Atom)

    def rss_snapshot(self) -> RssSnapshot:
        return self._session.rss_snapshot()

    def add_feed(self, url: str) -> asyncio.Future[Any]:
        return self.run(self._session.add_feed(url), f"Could not add the feed {url}")

    def remove_feed(self, url: str) -> asyncio.Future[Any]:
        return self.run(self._session.remove_feed(url), f"Could not remove the feed {url}")

    def set_rss_rules(self, rules: Sequence[Rule]) -> asyncio.Future[Any]:
        return self.run(self._session.set_rss_rules(list(rules)), "Could not save the download rules")

    def refresh_feeds(self) -> asyncio.Future[Any]:
        return self.run(self._session.refresh_feeds(), "Could not refresh the feeds")

    def apply_settings(self, changes: Mapping[str, Any]) -> asyncio.Future[Any]:
        """Hand the session the settings that changed (SessionConfig fields, engine units)."""
        return self.run(self._apply_settings(dict(changes)), "Could not apply the new preferences")

    def reload_ip_filter(self) -> asyncio.Future[Any]:
        """Read the block list file again (it may have been updated)."""
        return self.run(self._session.reload_ip_filter(), "Could not reload the IP filter")

    def run(self, command: Coroutine[Any, Any, Any], title: str) -> asyncio.Future[Any]:
        """Run a command on the loop; a failure becomes `failed(title, sentence)`."""
        task = asyncio.ensure_future(command)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, title))
        return task

    async def _add(
        self,
        source: Metainfo | Path | bytes | str,
        save_path: Path,
        paused: bool,
        priorities: Sequence[int],
        choose_files: bool,
        category: str,
    ) -> str:
        info_hash = await self._session.add_torrent(
            source, save_path, paused=paused, choose_files=choose_files, category=category
        )
        if any(p != 1 for p in priorities):
            await self._session.set_file_priorities(info_hash, priorities)
        return info_hash

    async def _add_files(self, paths: list[Path], save_path: Path, paused: bool) -> None:
        problems: list[str] = []
        for start in range(0, len(paths), ADD_BATCH):
            loaded = await asyncio.to_thread(_load_all, paths[start : start + ADD_BATCH])
            for item in loaded:
                problems += await self._add_loaded(item, save_path, paused)
            self.files_added.emit(min(start + ADD_BATCH, len(paths)))
        if problems:
            raise EngineError("\n".join(problems))

    async def _add_loaded(self, item: Metainfo | str, save_path: Path, paused: bool) -> list[str]:
        """[] when added; else the one line saying why not."""
        if isinstance(item, str):
            return [item]
        try:
            await self._session.add_torrent(item, save_path, paused=paused)
        except EngineError as error:
            return [f"{item.name}: {error}"]
        return []

    async def _start_with_files(self, info_hash: str, priorities: Sequence[int]) -> None:
        await self._session.set_file_priorities(info_hash, priorities)
        await self._session.resume(info_hash)

    async def _apply_settings(self, changes: dict[str, Any]) -> None:
        """Everything but the listening address first: a taken port then fails on its own."""
        rest = {k: v for k, v in changes.items() if k not in ADDRESS_FIELDS}
        address = {k: v for k, v in changes.items() if k in ADDRESS_FIELDS}
        for part in (rest, address):
            if part:
                await self._session.set_config(**part)

    async def _measure(self, folder: Path) -> None:
        try:
            free = await self._session.free_space(folder)
        finally:
            self._measuring = False
        self.free_space_measured.emit(str(folder), free)

    async def drain(self) -> None:
        """Wait for the commands still running, e.g. before closing the session."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # Internals

    def _finished(self, task: asyncio.Future[Any], title: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, EngineError):
            self.failed.emit(title, str(error))
        elif error is not None:
            # A bug, not a user error: the log keeps the traceback, the user gets one line.
            log.error("%s", title, exc_info=error)
            self.failed.emit(
                title, f"Piecemeal hit an internal error ({type(error).__name__}: {error})."
            )
        self._refresh_soon()

    def _on_event(self, event: Event) -> None:
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _refresh_soon(self) -> None:
        self._soon.start()

    def _refresh_details(self) -> None:
        if self._selected is None:
            return
        details = self._session.details(self._selected)
        if details is not None:
            self.details_changed.emit(details)

    def _name(self, info_hash: str) -> str:
        torrent = self._torrents.get(info_hash)
        return f"“{torrent.name}”" if torrent else info_hash


def _load_all(paths: Sequence[Path]) -> list[Metainfo | str]:
    """Read and parse each file (in a worker thread); a bad one becomes its error sentence."""
    loaded: list[Metainfo | str] = []
    for path in paths:
        try:
            loaded.append(load_metainfo(path))
        except MetainfoError as error:
            loaded.append(str(error))
    return loaded
