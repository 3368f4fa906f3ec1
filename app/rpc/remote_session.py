"""The window's session when it is a thin client: an EngineSession over Transmission's RPC.

It polls the daemon (torrent-get of the list's fields for every torrent, and the details
of the one torrent the window looks at), keeps the last answer as frozen snapshots for the
bridge to read at once, and says what changed between two polls as the local session's
events. Commands are RPC requests; a failure is a RemoteError with a sentence.
No Qt here: the window's bridge drives it like the local session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from app.engine.events import Event, MetadataReceived
from app.engine.magnet import format_magnet
from app.engine.metainfo import Metainfo
from app.engine.rss.rules import Rule
from app.engine.rss.service import RssSnapshot
from app.engine.snapshot_book import SnapshotBook
from app.engine.snapshots import SessionSnapshot, TorrentChanges, TorrentDetails, TorrentSnapshot
from app.engine.torrent_options import TorrentOptions
from app.rpc import remote_commands as commands
from app.rpc.client import RemoteError, RpcClient
from app.rpc.fields import PIECEMEAL
from app.rpc.remote_snapshots import (
    DETAIL_FIELDS, LIST_FIELDS, SESSION_FIELDS, changes, session_snapshot, torrent_details, torrent_snapshot,
)

log = logging.getLogger(__name__)

POLL_INTERVAL: Final = 0.5  # seconds: the bridge's rate
_ON_THE_DAEMON: Final = "On a daemon, {} in a window that runs on its machine: Transmission's RPC has no request for it."


class RemoteSession:
    """`on_problem(sentence)` hears when polling fails ("" once it works again)."""

    def __init__(
        self, client: RpcClient, interval: float = POLL_INTERVAL, clock: Callable[[], float] = time.time,
        on_problem: Callable[[str], None] = lambda sentence: None,
    ) -> None:
        self.client = client
        self.notices: tuple[str, ...] = ()
        self._interval = interval
        self._clock = clock
        self._on_problem = on_problem
        self._problem = ""
        self._listeners: list[Callable[[Event], None]] = []
        self._torrents: dict[str, TorrentSnapshot] = {}
        self._snapshot = session_snapshot((), None, {})
        self._book = SnapshotBook()  # which torrents changed between two polls, for the bridge
        self._details: dict[str, TorrentDetails] = {}
        self._watched: str | None = None
        self._choosing: set[str] = set()  # magnets to stop for the user's file choice once named
        self._listen_port: int | None = None
        self._piecemeal = False  # the daemon is Piecemeal's: it reads the piecemeal-* names
        self._lock = asyncio.Lock()
        self._wake: asyncio.Future[None] | None = None  # done: poll now, not at the next interval
        self._task: asyncio.Task[None] | None = None

    @property
    def label(self) -> str:
        return self.client.address.label

    # Life

    async def start(self) -> None:
        """The first poll (a RemoteError says why the daemon cannot be used), then one every interval."""
        session = await self.client.call("session-get", fields=list(SESSION_FIELDS))
        self._listen_port = session.get("peer-port")
        self._piecemeal = "Piecemeal" in str(session.get("version", ""))
        await self.refresh()
        self._task = asyncio.create_task(self._poll_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.client.close()

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = loop.create_future()
        while True:
            await asyncio.wait([self._wake], timeout=self._interval)
            self._wake = loop.create_future()  # before the poll: a command during it asks for another
            try:
                await self.refresh()
            except RemoteError as exc:
                self._report(str(exc))
            except Exception as exc:  # the task's boundary: a bug must not end the polling unseen
                log.exception("polling %s failed", self.label)
                self._report(f"Piecemeal hit an internal error while asking the daemon ({type(exc).__name__}).")
            else:
                self._report("")

    def _report(self, sentence: str) -> None:
        if sentence != self._problem:
            self._problem = sentence
            self._on_problem(sentence)

    async def refresh(self) -> None:
        """One poll: the list, the watched torrent's details, and the events they mean."""
        async with self._lock:
            # A Piecemeal daemon's categories and tags can change at any time: asked at every poll.
            session = await self.client.call("session-get", fields=list(SESSION_FIELDS)) if self._piecemeal else {}
            answer = await self.client.call("torrent-get", fields=list(LIST_FIELDS))
            torrents = self._read(lambda: _by_hash(torrent_snapshot(row, self._clock()) for row in answer["torrents"]))
            await self._fetch_details([h for h in (self._watched, *self._choosing) if h in torrents])
            before, self._torrents = self._torrents, torrents
            self._note_changes(before, torrents)
            self._listen_port = session.get("peer-port", self._listen_port)
            self._snapshot = self._read(lambda: session_snapshot(list(torrents.values()), self._listen_port, session))
            events = changes(before, torrents)
            # A magnet whose metadata came before our first look at it: no change to see, same news.
            events += [MetadataReceived(h, t.name) for h, t in torrents.items()
                       if h in self._choosing and h not in before and t.num_pieces]
            for event in events:
                await self._emit(event)

    async def _fetch_details(self, hashes: Sequence[str]) -> None:
        if not hashes:
            self._details = {}
            return
        answer = await self.client.call("torrent-get", ids=list(hashes), fields=list(DETAIL_FIELDS))
        self._details = self._read(lambda: _by_hash(map(torrent_details, answer["torrents"])))

    def _read(self, build: Callable[[], Any]) -> Any:
        """Build snapshots from an answer; one that does not hold what it should is a RemoteError."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RemoteError(f"The daemon at {self.label} sent torrents the window cannot read ({exc!r}).") from None

    async def _emit(self, event: Event) -> None:
        if isinstance(event, MetadataReceived) and event.info_hash in self._choosing:
            # As the local session does: stop before any file is fetched, for the user to choose.
            self._choosing.discard(event.info_hash)
            self._watched = event.info_hash  # its files are what the user looks at next
            if not self._piecemeal:  # a Piecemeal daemon stopped it itself, before any piece came
                await self.client.call("torrent-stop", ids=[event.info_hash])
            event = MetadataReceived(event.info_hash, event.name, choose_files=True)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one listener's bug must not keep the event from the others
                log.exception("a listener failed on %s", event)

    def _poll_soon(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # Reading the state (from the last poll)

    def snapshot(self) -> SessionSnapshot:
        return self._snapshot

    def changes(self, since: int) -> TorrentChanges:
        """The torrents that changed after revision `since` (0: all), as of the last poll."""
        return self._book.since(since)

    def _note_changes(self, before: dict[str, TorrentSnapshot], torrents: dict[str, TorrentSnapshot]) -> None:
        for info_hash in before.keys() - torrents.keys():
            self._book.forget(info_hash)
        for torrent in torrents.values():
            self._book.record(torrent)

    def details(self, info_hash: str) -> TorrentDetails | None:
        """The last polled details; asking makes this torrent the one polled from now on."""
        if info_hash != self._watched:
            self._watched = info_hash
            self._poll_soon()
        return self._details.get(info_hash)

    def magnet_uri(self, info_hash: str) -> str:
        torrent = self._torrents.get(info_hash)
        name = torrent.name if torrent else ""
        trackers = [t.url for t in torrent.trackers] if torrent else []
        return format_magnet(bytes.fromhex(info_hash), name, trackers)

    def add_listener(self, callback: Callable[[Event], None]) -> None:
        self._listeners.append(callback)

    async def free_space(self, folder: str | Path) -> int | None:
        """Free bytes in `folder` on the daemon's machine (RPC spec 4.4), None if it cannot say."""
        try:
            answer = await self.client.call("free-space", path=str(folder))
        except RemoteError:
            return None
        free = answer.get("size-bytes")
        return free if isinstance(free, int) and free >= 0 else None

    # Commands

    async def add_torrent(
        self, source: bytes | str | Path | Metainfo, save_path: str | Path | None = None, *,
        paused: bool = False, choose_files: bool = False, category: str = "",
    ) -> str:
        """The .torrent travels in the request: the daemon may not see this machine's files."""
        data = await _torrent_source(source)
        arguments = commands.add_arguments(data, save_path, paused)
        if category:
            arguments["labels"] = [category]  # a Piecemeal daemon reads a known category's name as the category
        choosing = choose_files and isinstance(data, str)
        if choosing and self._piecemeal:
            arguments[PIECEMEAL + "choose-files"] = True
        answer = await self.client.call("torrent-add", **arguments)
        if "torrent-duplicate" in answer:
            raise RemoteError(f"'{answer['torrent-duplicate'].get('name', '')}' is already in the list")
        info_hash = str(answer["torrent-added"]["hashString"]).lower()
        if choosing:
            self._choosing.add(info_hash)
        self._poll_soon()
        return info_hash

    async def remove(self, info_hash: str, delete_files: bool = False) -> None:
        await self._each("torrent-remove", info_hash, **{"delete-local-data": delete_files})

    async def pause(self, info_hash: str) -> None:
        await self._each("torrent-stop", info_hash)

    async def resume(self, info_hash: str) -> None:
        await self._each("torrent-start", info_hash)

    async def recheck(self, info_hash: str) -> None:
        await self._each("torrent-verify", info_hash)

    async def set_file_priorities(self, info_hash: str, priorities: Sequence[int]) -> None:
        await self._each("torrent-set", info_hash, **commands.file_arguments(priorities))

    async def set_options(self, info_hash: str, options: TorrentOptions) -> None:
        await self._each("torrent-set", info_hash, **commands.option_arguments(options))

    async def move_storage(self, info_hash: str, new_dir: str | Path) -> None:
        await self._each("torrent-set-location", info_hash, location=str(new_dir), move=True)

    async def set_category(self, info_hash: str, category: str) -> None:
        """Transmission's `labels` carry the category first, then the tags (app/rpc/labels.py)."""
        torrent = self._torrents.get(info_hash)
        tags = list(torrent.tags) if torrent else []
        await self._each("torrent-set", info_hash, labels=[category, *tags] if category else tags)

    async def set_tags(self, info_hash: str, tags: Sequence[str]) -> None:
        torrent = self._torrents.get(info_hash)
        category = torrent.category if torrent else ""
        await self._each("torrent-set", info_hash, labels=[category, *tags] if category else list(tags))

    async def add_category(self, name: str, save_path: str = "") -> None:
        raise RemoteError(_ON_THE_DAEMON.format("categories are made"))

    async def remove_category(self, name: str) -> None:
        raise RemoteError(_ON_THE_DAEMON.format("categories are removed"))

    async def reload_ip_filter(self) -> None:
        """Transmission's blocklist-update: the daemon reads its block list file again."""
        await self.client.call("blocklist-update")

    async def stream_url(self, info_hash: str, file_index: int) -> str:
        raise RemoteError("Streaming plays files of this computer's torrents only, not the daemon's.")

    async def add_web_seed(self, info_hash: str, url: str) -> None:
        raise RemoteError("The remote control cannot add a web seed: Transmission's RPC has no request for it.")

    async def add_peer_address(self, info_hash: str, address: str) -> None:
        raise RemoteError("The remote control cannot add a peer: Transmission's RPC has no request for it.")

    # Feeds: the daemon's own are not visible over Transmission's RPC; the window shows none.

    def rss_snapshot(self) -> RssSnapshot:
        return RssSnapshot(feeds=(), rules=())

    async def add_feed(self, url: str) -> None:
        raise RemoteError(_ON_THE_DAEMON.format("feeds are followed"))

    async def remove_feed(self, url: str) -> None:
        raise RemoteError(_ON_THE_DAEMON.format("feeds are removed"))

    async def set_rss_rules(self, rules: Sequence[Rule]) -> None:
        raise RemoteError(_ON_THE_DAEMON.format("download rules are set"))

    async def refresh_feeds(self) -> None:
        raise RemoteError(_ON_THE_DAEMON.format("feeds are read"))

    async def set_config(self, **changes: Any) -> None:
        arguments, refused = commands.session_arguments(changes)
        if arguments:
            await self.client.call("session-set", **arguments)
        if refused:
            raise RemoteError(f"The remote control does not change {', '.join(refused)} on the daemon.")

    async def _each(self, method: str, info_hash: str, **arguments: Any) -> None:
        await self.client.call(method, ids=[info_hash], **arguments)
        self._poll_soon()


def _by_hash(items: Iterable[Any]) -> dict[str, Any]:
    return {item.info_hash: item for item in items}


async def _torrent_source(source: bytes | str | Path | Metainfo) -> bytes | str:
    """A magnet link as it is; anything else as the bytes of a .torrent."""
    if isinstance(source, Metainfo):
        return commands.torrent_file(source)
    if isinstance(source, str) and source[:7].lower() == "magnet:":
        return source
    if isinstance(source, bytes):
        return source
    try:
        return await asyncio.to_thread(Path(source).read_bytes)
    except OSError as exc:
        raise RemoteError(f"Could not read {source}: {exc.strerror or exc}") from None
