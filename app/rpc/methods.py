"""The Transmission-RPC method table over the engine's Session (RPC spec sections 3 and 4).

`RpcMethods.answer(body)` takes a request's bytes and returns the response object; nothing a
client sends makes it raise. Each method reads the session's snapshots and details and calls
its public commands; `fields` builds torrent-get's values, `torrent_ids` keeps the ids.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from app.engine.errors import EngineError, MagnetError, MetainfoError
from app.engine.magnet import parse_magnet
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState
from app.engine.torrent_options import HIGH, NORMAL, SKIP
from app.rpc import fields
from app.rpc.labels import LabelChoice, split_labels
from app.rpc.request import (
    RpcError, RpcRequest, get_bool, get_indices, get_int, get_number, get_str, get_strings, parse_request,
)
from app.rpc.settings import KB, SETTINGS, UTP_FIRST, SettingsError, checked, engine_config
from app.rpc.stats import Totals
from app.rpc.torrent_ids import TorrentIds, parse_ids

log = logging.getLogger(__name__)

VERSION: Final = "0.1.0 (Piecemeal)"
RPC_VERSION: Final = 17  # the 4.0 names (camelCase and kebab-case), as transmission-remote 3.00 and 4.0 speak
RPC_VERSION_MINIMUM: Final = 14
RPC_VERSION_SEMVER: Final = "5.3.0"
SUCCESS: Final = "success"
URL_SCHEMES: Final = ("http://", "https://", "ftp://")
PORT_TEST_RESULT: Final = (
    "Couldn't test port: Piecemeal does not ask outside servers whether its port can be reached"
)
_FIXED_SESSION_VALUES: Final[dict[str, Any]] = {  # what Piecemeal does not have, said as Transmission says it
    "incomplete-dir-enabled": False, "incomplete-dir": "", "rename-partial-files": False,
    "idle-seeding-limit-enabled": False, "idle-seeding-limit": 30, "queue-stalled-enabled": False,
    "queue-stalled-minutes": 30, "script-torrent-added-enabled": False, "script-torrent-added-filename": "",
    "script-torrent-done-seeding-enabled": False, "script-torrent-done-seeding-filename": "", "default-trackers": "",
    "version": VERSION, "rpc-version": RPC_VERSION, "rpc-version-minimum": RPC_VERSION_MINIMUM,
    "rpc-version-semver": RPC_VERSION_SEMVER,
    "units": {
        "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": KB,
        "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": KB,
        "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024,
    },
}
# RPC spec 4.1 keys answered from what the running session does (the settings file says what
# it starts with; the window may have set more), or from settings the engine takes in another shape.
_LIVE_SESSION_VALUES: Final[dict[str, Callable[[Session, Mapping[str, Any]], Any]]] = {
    "utp-enabled": lambda session, settings: session.config.transport != "tcp",
    UTP_FIRST: lambda session, settings: session.config.transport == "utp-first",
    "peer-port": lambda session, settings: session.listen_port or settings["peer-port"],
    # Port 0: the system picks a new one at each start.
    "peer-port-random-on-start": lambda session, settings: settings["peer-port"] == 0,
    "script-torrent-done-enabled": lambda session, settings: bool(session.config.on_complete_program),
    "script-torrent-done-filename": lambda session, settings: session.config.on_complete_program,
    "trash-original-torrent-files": lambda session, settings: settings["trash-original-torrent-files"],
    # blocklist-update reads the IP filter file again: that file is where the blocklist comes from.
    "blocklist-url": lambda session, settings: _file_url(session.config.ip_filter_path),
    "blocklist-enabled": lambda session, settings: session.config.ip_filter_path is not None,
    "blocklist-size": lambda session, settings: session.sockets.gate.rules,
}
_PRIORITY_KEYS: Final = {"priority-high": HIGH, "priority-normal": NORMAL, "priority-low": NORMAL}  # no "low" here

Handler = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class DaemonContext:
    """What the methods need from the daemon around them."""

    session_id: str
    config_dir: str
    persist: Callable[[dict[str, Any]], None]  # save changed settings to the profile
    close: Callable[[], None]  # session-close: stop the daemon once the answer is out
    earlier: Totals = Totals()  # session-stats' totals of the runs before this one


class RpcMethods:
    def __init__(
        self, session: Session, settings: dict[str, Any], context: DaemonContext,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.settings = settings
        self.context = context
        self.clock = clock
        self.ids = TorrentIds()
        self.started_at = clock()
        self.added = 0
        self._seen: dict[str, tuple[TorrentState, StopReason | None, float]] = {}
        self._torrents: tuple[TorrentSnapshot, ...] = ()  # the session's, taken once per request
        self._limits: dict[str, tuple[int, int]] = {}  # kB/s a torrent had before its limit was switched off
        self._table: dict[str, Handler] = {
            "torrent-get": self.torrent_get, "torrent-add": self.torrent_add,
            "torrent-start": self.torrent_start, "torrent-start-now": self.torrent_start,
            "torrent-stop": self.torrent_stop, "torrent-verify": self.torrent_verify,
            "torrent-reannounce": self.torrent_reannounce, "torrent-remove": self.torrent_remove,
            "torrent-set": self.torrent_set, "torrent-set-location": self.torrent_set_location,
            "session-get": self.session_get, "session-set": self.session_set,
            "session-stats": self.session_stats, "session-close": self.session_close,
            "free-space": self.free_space, "port-test": self.port_test, "group-get": self.group_get,
            "blocklist-update": self.blocklist_update,
        }

    # the request cycle

    async def answer(self, body: bytes) -> dict[str, Any]:
        """The response object for a request's bytes; never raises."""
        try:
            request = parse_request(body)
        except RpcError as exc:
            return {"result": str(exc), "arguments": {}}
        response: dict[str, Any] = {"result": SUCCESS, "arguments": {}}
        try:
            response["arguments"] = await self.call(request)
        except (RpcError, EngineError, ValueError) as exc:
            response["result"] = str(exc) or type(exc).__name__
        except Exception as exc:  # a task boundary: the client gets words, the log the traceback
            log.exception("RPC method %s failed", request.method)
            response["result"] = f"Piecemeal could not do '{request.method}': an internal error ({type(exc).__name__})"
        if request.tag is not None:
            response["tag"] = request.tag
        return response

    async def call(self, request: RpcRequest) -> dict[str, Any]:
        handler = self._table.get(request.method)
        if handler is None:
            raise RpcError(_unsupported(request.method))
        self._refresh(self.clock())
        return await handler(request.arguments)

    def _refresh(self, now: float) -> None:
        """Take the torrents' snapshots; ids for new torrents, forget removed ones, note which
        changed (for "recently-active")."""
        self._torrents = self.session.snapshot().torrents
        current = {}
        for snap in self._torrents:
            self.ids.id_for(snap.info_hash)
            state = (snap.state, snap.reason, snap.progress)
            if snap.down_rate or snap.up_rate or self._seen.get(snap.info_hash) != state:
                self.ids.touch(snap.info_hash, now)
            current[snap.info_hash] = state
        for gone in set(self._seen) - set(current):
            self.ids.forget(gone, now)
        self._seen = current

    def _selected(self, args: Mapping[str, Any]) -> list[str]:
        hashes = [snap.info_hash for snap in self._torrents]
        return self.ids.select(parse_ids(args.get("ids")), hashes, self.clock())

    # torrent-get (RPC spec 3.3)

    async def torrent_get(self, args: Mapping[str, Any]) -> dict[str, Any]:
        names = get_strings(args, "fields")
        if not names:
            raise RpcError("no fields specified")
        table = get_str(args, "format") == "table"
        wanted = set(self._selected(args))
        views = [self._view(position, snap, names) for position, snap in enumerate(self._torrents)
                 if snap.info_hash in wanted]
        rows = [fields.build(view, names) for view in views]
        result: dict[str, Any] = {"torrents": _as_table(rows, names) if table else rows}
        if args.get("ids") in ("recently-active", "recently_active"):
            result["removed"] = self.ids.removed_since(self.clock())
        return result

    def _view(self, position: int, snap: TorrentSnapshot, names: list[str]) -> fields.TorrentView:
        return fields.TorrentView(
            id=self.ids.id_for(snap.info_hash), queue_position=position, snapshot=snap,
            details=self.session.details(snap.info_hash) if fields.needs_details(names, snap) else None,
            magnet_link=self.session.magnet_uri(snap.info_hash) if "magnetLink" in names else "",
            peer_limit=self.session.config.max_peers_per_torrent,
            remembered_limits=self._limits.get(snap.info_hash, (fields.DEFAULT_TORRENT_LIMIT,) * 2),
        )

    # torrent-add (RPC spec 3.4)

    async def torrent_add(self, args: Mapping[str, Any]) -> dict[str, Any]:
        source, info_hash = await _source(args)
        labels = self._label_choice(args)
        folder = (_absolute(get_str(args, "download-dir"), "download directory")
                  or self._category_folder(labels.category) or self.settings["download-dir"])
        existing = self._snapshot_of(info_hash)
        if existing is not None:
            return {"torrent-duplicate": self._brief(existing)}
        paused = get_bool(args, "paused", not self.settings["start-added-torrents"])
        priorities = _file_choice(source, args) if isinstance(source, Metainfo) else None
        # Piecemeal's own: a magnet stops once its metadata arrives, for the user to choose its files.
        choose = bool(get_bool(args, fields.PIECEMEAL + "choose-files", False)) and isinstance(source, str)
        await self.session.add_torrent(source, folder, paused=paused or priorities is not None, choose_files=choose,
                                       category=labels.category)
        self.added += 1
        if labels.tags:
            await self.session.set_tags(info_hash, labels.tags)
        if priorities is not None:
            await self.session.set_file_priorities(info_hash, priorities)
            if not paused:
                await self.session.resume(info_hash)
        self._refresh(self.clock())
        added = self._snapshot_of(info_hash)
        assert added is not None, "a torrent just added is in the snapshot"
        return {"torrent-added": self._brief(added)}

    def _snapshot_of(self, info_hash: str) -> TorrentSnapshot | None:
        return next((s for s in self._torrents if s.info_hash == info_hash), None)

    def _brief(self, snap: TorrentSnapshot) -> dict[str, Any]:
        return {"id": self.ids.id_for(snap.info_hash), "name": snap.name, "hashString": snap.info_hash}

    # torrent actions (RPC spec 3.1) and removal (3.5)

    async def torrent_start(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return await self._each(args, self.session.resume)

    async def torrent_stop(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return await self._each(args, self.session.pause)

    async def torrent_verify(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return await self._each(args, self.session.recheck)

    async def torrent_reannounce(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return await self._each(args, self.session.reannounce)

    async def torrent_remove(self, args: Mapping[str, Any]) -> dict[str, Any]:
        delete = bool(get_bool(args, "delete-local-data", False))
        for info_hash in self._selected(args):
            await self.session.remove(info_hash, delete_files=delete)
            self.ids.forget(info_hash, self.clock())
            self._seen.pop(info_hash, None)
        return {}

    async def _each(self, args: Mapping[str, Any], action: Callable[[str], Awaitable[None]]) -> dict[str, Any]:
        for info_hash in self._selected(args):
            await action(info_hash)
        return {}

    # torrent-set (RPC spec 3.2) and torrent-set-location (3.6)

    async def torrent_set(self, args: Mapping[str, Any]) -> dict[str, Any]:
        for info_hash in self._selected(args):
            await self._set_files(info_hash, args)
            await self._set_limits(info_hash, args)
            await self._set_goal(info_hash, args)
            await self._set_seed_time(info_hash, args)
            sequential = get_bool(args, "sequentialDownload")
            if sequential is not None:
                await self.session.set_sequential(info_hash, sequential)
            await self._set_labels(info_hash, args)
            location = _absolute(get_str(args, "location"), "new location")
            if location:
                await self.session.move_storage(info_hash, location)
        return {}

    async def _set_labels(self, info_hash: str, args: Mapping[str, Any]) -> None:
        if args.get("labels") is None:
            return
        choice = self._label_choice(args)
        await self.session.set_category(info_hash, choice.category)
        await self.session.set_tags(info_hash, choice.tags)

    def _label_choice(self, args: Mapping[str, Any]) -> LabelChoice:
        """The category and tags that `labels` names (none when absent); see app/rpc/labels.py."""
        categories = (c.name for c in self.session.snapshot().categories)
        return split_labels(get_strings(args, "labels") or [], categories)

    def _category_folder(self, category: str) -> str:
        return next((c.save_path for c in self.session.snapshot().categories if c.name == category), "")

    async def _set_files(self, info_hash: str, args: Mapping[str, Any]) -> None:
        keys = ("files-wanted", "files-unwanted", *_PRIORITY_KEYS)
        if not any(key in args for key in keys):
            return
        details = self.session.details(info_hash)
        if details is None or not details.files:
            raise RpcError("the files are not known until the torrent's metadata arrives")
        current = [f.priority for f in details.files]
        await self.session.set_file_priorities(info_hash, chosen_priorities(current, args))

    async def _set_limits(self, info_hash: str, args: Mapping[str, Any]) -> None:
        keys = ("downloadLimit", "downloadLimited", "uploadLimit", "uploadLimited")
        if not any(key in args for key in keys):
            return
        details = self.session.details(info_hash)
        assert details is not None, "a selected torrent has details"
        remembered = self._limits.get(info_hash, (fields.DEFAULT_TORRENT_LIMIT,) * 2)
        down, down_kb = _limit(args, "download", details.options.down_limit, remembered[0])
        up, up_kb = _limit(args, "upload", details.options.up_limit, remembered[1])
        self._limits[info_hash] = (down_kb, up_kb)
        await self.session.set_torrent_limits(info_hash, down, up)

    async def _set_goal(self, info_hash: str, args: Mapping[str, Any]) -> None:
        mode = get_int(args, "seedRatioMode")
        ratio = get_number(args, "seedRatioLimit")
        if mode is None and ratio is None:
            return
        details = self.session.details(info_hash)
        assert details is not None, "a selected torrent has details"
        options = details.options
        goal = _ratio_goal(mode, ratio, options.ratio_limit)
        await self.session.set_options(info_hash, replace(options, ratio_limit=goal))

    async def _set_seed_time(self, info_hash: str, args: Mapping[str, Any]) -> None:
        """Piecemeal's own: stop seeding after this many seconds; null: the session's goal."""
        key = fields.PIECEMEAL + "seed-time-limit"
        if key not in args:
            return
        seconds = get_number(args, key)
        details = self.session.details(info_hash)
        assert details is not None, "a selected torrent has details"
        await self.session.set_options(info_hash, replace(details.options, seed_time_limit=seconds))

    async def torrent_set_location(self, args: Mapping[str, Any]) -> dict[str, Any]:
        location = _absolute(get_str(args, "location"), "new location")
        if not location:
            raise RpcError("no location given")
        if not get_bool(args, "move", False):
            raise RpcError("Piecemeal moves a torrent's files itself: send \"move\": true "
                           "(finding the files already in another folder is not supported)")
        return await self._each(args, lambda info_hash: self.session.move_storage(info_hash, location))

    # session (RPC spec 4.1 - 4.7)

    async def session_get(self, args: Mapping[str, Any]) -> dict[str, Any]:
        names = get_strings(args, "fields")
        values = {key: value for key, value in self.settings.items() if SETTINGS[key].remote}
        values.update(_FIXED_SESSION_VALUES)
        values.update({key: live(self.session, self.settings) for key, live in _LIVE_SESSION_VALUES.items()})
        values["session-id"] = self.context.session_id
        values["config-dir"] = self.context.config_dir
        snapshot = self.session.snapshot()  # Piecemeal's own: what the window's sidebar lists
        values[fields.PIECEMEAL + "categories"] = [{"name": c.name, "save-path": c.save_path} for c in snapshot.categories]
        values[fields.PIECEMEAL + "tags"] = list(snapshot.tags)
        values["download-dir-free-space"] = await _free_bytes(Path(self.settings["download-dir"]))
        return {key: values[key] for key in names if key in values} if names else values

    async def session_set(self, args: Mapping[str, Any]) -> dict[str, Any]:
        changes = {key: _setting(key, value) for key, value in args.items() if key in SETTINGS and SETTINGS[key].remote}
        if not changes:
            return {}
        new = {**self.settings, **changes}
        old_config, new_config = engine_config(self.settings), engine_config(new)
        diff = {name: value for name, value in new_config.items() if old_config[name] != value}
        if diff:
            await self.session.set_config(**diff)
        self.settings.update(changes)
        try:
            self.context.persist(changes)
        except SettingsError as exc:
            raise RpcError(f"the change is in effect until the daemon stops, but {exc}") from None
        return {}

    async def session_stats(self, args: Mapping[str, Any]) -> dict[str, Any]:
        snap = self.session.snapshot()
        paused = sum(1 for t in snap.torrents if t.reason not in (None, StopReason.QUEUED))
        current = self.current_totals()
        return {
            "activeTorrentCount": len(snap.torrents) - paused, "pausedTorrentCount": paused,
            "torrentCount": len(snap.torrents), "downloadSpeed": int(snap.down_rate), "uploadSpeed": int(snap.up_rate),
            "current-stats": current.as_json(), "cumulative-stats": self.context.earlier.plus(current).as_json(),
        }

    def current_totals(self) -> Totals:
        """This run's: the bytes of the torrents still in the session, the torrents added, the time."""
        torrents = self.session.snapshot().torrents
        return Totals(
            uploadedBytes=sum(t.uploaded for t in torrents), downloadedBytes=sum(t.downloaded for t in torrents),
            filesAdded=self.added, sessionCount=1, secondsActive=int(self.clock() - self.started_at),
        )

    async def session_close(self, args: Mapping[str, Any]) -> dict[str, Any]:
        asyncio.get_running_loop().call_soon(self.context.close)
        return {}

    async def free_space(self, args: Mapping[str, Any]) -> dict[str, Any]:
        path = _absolute(get_str(args, "path"), "directory")
        if not path:
            raise RpcError("no path given")
        try:
            usage = await asyncio.to_thread(shutil.disk_usage, path)
        except OSError as exc:
            raise RpcError(f"Could not read the free space of {path}: {exc.strerror or exc}") from None
        return {"path": path, "size-bytes": usage.free, "total_size": usage.total}

    async def port_test(self, args: Mapping[str, Any]) -> dict[str, Any]:
        # Testing needs a server outside to connect back, and Piecemeal contacts none on its own:
        # this is Transmission's answer when the test cannot be made.
        raise RpcError(PORT_TEST_RESULT)

    async def blocklist_update(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """RPC spec 4.5: here the IP filter file is read again (Piecemeal downloads no list)."""
        try:
            await self.session.reload_ip_filter()
        except EngineError as exc:
            raise RpcError(str(exc)) from None
        return {"blocklist-size": self.session.sockets.gate.rules}

    async def group_get(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return {"group": []}  # Piecemeal has no bandwidth groups


_UNSUPPORTED: Final = {
    "torrent-rename-path": "renaming a torrent's files is not supported by Piecemeal",
    "queue-move-top": "moving torrents in the queue is not supported by Piecemeal yet",
    "queue-move-up": "moving torrents in the queue is not supported by Piecemeal yet",
    "queue-move-down": "moving torrents in the queue is not supported by Piecemeal yet",
    "queue-move-bottom": "moving torrents in the queue is not supported by Piecemeal yet",
    "group-set": "Piecemeal has no bandwidth groups",
}


def _unsupported(method: str) -> str:
    return _UNSUPPORTED.get(method, "method name not recognized")


def _as_table(rows: list[dict[str, Any]], names: list[str]) -> list[list[Any]]:
    """RPC spec 3.3 `format: table`: the keys first, then one row of values per torrent."""
    keys = [name for name in dict.fromkeys(names) if name in fields.FIELDS]
    return [keys, *([row[key] for key in keys] for row in rows)]


def _absolute(path: str | None, what: str) -> str | None:
    if path and not Path(path).is_absolute():
        raise RpcError(f"{what} path is not absolute")
    return path


def _setting(key: str, value: Any) -> Any:
    try:
        value = checked(key, value)
    except SettingsError as exc:
        raise RpcError(str(exc)) from None
    if key == "download-dir":
        _absolute(value, "download directory")
    return value


def _file_url(path: Path | None) -> str:
    return path.resolve().as_uri() if path is not None else ""


async def _free_bytes(path: Path) -> int:
    try:
        return (await asyncio.to_thread(shutil.disk_usage, path)).free
    except OSError:
        return -1


async def _source(args: Mapping[str, Any]) -> tuple[Metainfo | str, str]:
    """The torrent to add and its info-hash: base64 `metainfo`, or `filename` (a path or a magnet)."""
    encoded, filename = get_str(args, "metainfo"), get_str(args, "filename")
    if encoded:
        try:
            data = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            raise RpcError("'metainfo' is not base64") from None
        return _metainfo(data)
    if not filename:
        raise RpcError("no filename or metainfo specified")
    if filename[:7].lower() == "magnet:":
        try:
            return filename, parse_magnet(filename).info_hash.hex()
        except MagnetError as exc:
            raise RpcError(f"invalid magnet link: {exc}") from None
    if filename.lower().startswith(URL_SCHEMES):
        raise RpcError("Piecemeal adds a .torrent by its path on this machine or a magnet link, "
                       "not from a web address: download the .torrent first")
    return _metainfo(await _read_torrent(filename))


async def _read_torrent(filename: str) -> bytes:
    try:
        return await asyncio.to_thread(Path(filename).read_bytes)
    except OSError as exc:
        raise RpcError(f"Could not read {filename}: {exc.strerror or exc}") from None


def _metainfo(data: bytes) -> tuple[Metainfo, str]:
    try:
        meta = parse_metainfo(data)
    except MetainfoError as exc:
        raise RpcError(f"invalid or corrupt torrent file: {exc}") from None
    return meta, meta.info_hash_hex


def _file_choice(meta: Metainfo, args: Mapping[str, Any]) -> list[int] | None:
    """torrent-add's files-wanted/unwanted and priority-*: per file, 0 skip, 1 normal, 2 high."""
    keys = ("files-wanted", "files-unwanted", *_PRIORITY_KEYS)
    if not any(key in args for key in keys):
        return None
    return chosen_priorities([NORMAL] * len(meta.files), args)


def chosen_priorities(current: list[int], args: Mapping[str, Any]) -> list[int]:
    """Apply wanted/unwanted, then priorities to the wanted files; an empty list means all files."""
    result = list(current)
    for key, wanted in (("files-wanted", True), ("files-unwanted", False)):
        for index in _file_indices(args, key, len(result)):
            result[index] = (result[index] or NORMAL) if wanted else SKIP
    for key, priority in _PRIORITY_KEYS.items():
        for index in _file_indices(args, key, len(result)):
            if result[index] != SKIP:
                result[index] = priority
    return result


def _file_indices(args: Mapping[str, Any], key: str, count: int) -> list[int]:
    indices = get_indices(args, key)
    if indices is None:
        return []
    if not indices:
        return list(range(count))
    beyond = [index for index in indices if index >= count]
    if beyond:
        raise RpcError(f"'{key}' names file {beyond[0]}, but the torrent has {count} (counted from 0)")
    return indices


def _limit(args: Mapping[str, Any], prefix: str, current: int, remembered_kb: int) -> tuple[int, int]:
    """The new limit in bytes/s (0: none) and the kB/s to remember, from `<prefix>Limit(ed)`."""
    kb = get_int(args, f"{prefix}Limit")
    limited = get_bool(args, f"{prefix}Limited")
    kb = kb if kb is not None else (round(current / KB) if current else remembered_kb)
    if limited is None:
        limited = bool(current) or f"{prefix}Limit" in args
    return (kb * KB if limited else 0), kb


def _ratio_goal(mode: int | None, ratio: float | None, current: float | None) -> float | None:
    """tr_ratiolimit: 0 the session's goal (None here), 1 the torrent's own, 2 never stop (0 here)."""
    if mode is None:
        mode = 1 if ratio is not None else (0 if current is None else (2 if current == 0 else 1))
    if mode not in (0, 1, 2):
        raise RpcError("'seedRatioMode' is 0 (the session's), 1 (the torrent's own) or 2 (unlimited)")
    if mode == 1:
        return ratio if ratio is not None else (current or 2.0)
    return None if mode == 0 else 0.0

