"""SQLite persistence: the torrent list, resume data and settings, in one WAL database."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from app.engine.errors import StorageError


@dataclass(frozen=True, slots=True)
class TorrentRecord:
    """One torrent of the list, as the session restores it at start-up."""

    info_hash: bytes
    metainfo: bytes  # the raw .torrent bytes, or b"" for a magnet still without metadata
    magnet: str
    save_path: str
    paused: bool
    added_on: float
    name: str
    file_priorities: tuple[int, ...]
    sequential: bool
    down_limit: int  # bytes per second, 0 = unlimited
    up_limit: int
    queue_position: int
    ratio_limit: float | None = None  # stop seeding at this share ratio; None: the session's goal, 0: never
    seed_time_limit: float | None = None  # or after this many seconds of seeding; same None / 0
    choose_files: bool = False  # a magnet: stop when the metadata arrives, for the user to pick files
    stop_reason: str = ""  # why it is paused: a StopReason's name ("SEEDING_GOAL"); "" the user's pause
    category: str = ""  # the user's category, "" none (app/engine/labels.py)
    tags: tuple[str, ...] = ()
    super_seeding: bool = False  # BEP 16, a per-torrent option
    summary: str = ""  # what the list shows before the .torrent is parsed (metainfo_summary.py); "" none


@dataclass(frozen=True, slots=True)
class ResumeRecord:
    """Which pieces were verified, and the files as they were when that was written."""

    info_hash: bytes
    verified: bytes  # bitfield bytes, BEP 3 bit order
    num_pieces: int
    file_stamps: tuple[tuple[int, int], ...]  # (size, mtime_ns) per file
    downloaded: int
    uploaded: int
    active_seconds: float
    saved_at: float
    seeding_seconds: float = 0.0  # what a seeding-time goal counts


# Each entry upgrades the schema by one version; PRAGMA user_version counts the entries applied.
# Never edit an entry once released: append a new one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # v1: the torrent list, resume data, settings
        """CREATE TABLE torrents (
            info_hash BLOB PRIMARY KEY, metainfo BLOB NOT NULL, magnet TEXT NOT NULL,
            save_path TEXT NOT NULL, paused INTEGER NOT NULL, added_on REAL NOT NULL,
            name TEXT NOT NULL, file_priorities TEXT NOT NULL, queue_position INTEGER NOT NULL)""",
        "CREATE INDEX torrents_by_queue ON torrents (queue_position)",
        """CREATE TABLE resume (
            info_hash BLOB PRIMARY KEY, verified BLOB NOT NULL, num_pieces INTEGER NOT NULL,
            file_stamps BLOB NOT NULL, downloaded INTEGER NOT NULL, uploaded INTEGER NOT NULL,
            active_seconds REAL NOT NULL, saved_at REAL NOT NULL)""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (  # v2: per-torrent options
        "ALTER TABLE torrents ADD COLUMN sequential INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN down_limit INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN up_limit INTEGER NOT NULL DEFAULT 0",
    ),
    (  # v3: per-torrent seeding goals, file choice after metadata, seeding time
        "ALTER TABLE torrents ADD COLUMN ratio_limit REAL",
        "ALTER TABLE torrents ADD COLUMN seed_time_limit REAL",
        "ALTER TABLE torrents ADD COLUMN choose_files INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE resume ADD COLUMN seeding_seconds REAL NOT NULL DEFAULT 0",
    ),
    (  # v4: why a paused torrent is paused (a seeding goal, the file choice), kept across restarts
        "ALTER TABLE torrents ADD COLUMN stop_reason TEXT NOT NULL DEFAULT ''",
    ),
    (  # v5: the torrent's category and tags
        "ALTER TABLE torrents ADD COLUMN category TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE torrents ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
    ),
    (  # v6: super-seeding (BEP 16), a per-torrent option
        "ALTER TABLE torrents ADD COLUMN super_seeding INTEGER NOT NULL DEFAULT 0",
    ),
    (  # v7: a summary of the metainfo, so that start-up parses no .torrent it does not need
        "ALTER TABLE torrents ADD COLUMN summary TEXT NOT NULL DEFAULT ''",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_TORRENT_COLUMNS = tuple(f.name for f in fields(TorrentRecord))
_UPDATABLE = frozenset(_TORRENT_COLUMNS[1:])
_RESUME_COLUMNS = tuple(f.name for f in fields(ResumeRecord))
_STAMPS_COLUMN = _RESUME_COLUMNS.index("file_stamps")
_SELECT_TORRENTS = (
    f"SELECT {', '.join(_TORRENT_COLUMNS)} FROM torrents ORDER BY queue_position, added_on"
)
_UPSERT_TORRENT = (
    f"INSERT INTO torrents ({', '.join(_TORRENT_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_TORRENT_COLUMNS))})"
    " ON CONFLICT (info_hash) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TORRENT_COLUMNS[1:])
)
_SELECT_RESUME = f"SELECT {', '.join(_RESUME_COLUMNS)} FROM resume WHERE info_hash = ?"
_SELECT_ALL_RESUME = f"SELECT {', '.join(_RESUME_COLUMNS)} FROM resume"
_REPLACE_RESUME = (
    f"INSERT OR REPLACE INTO resume ({', '.join(_RESUME_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_RESUME_COLUMNS))})"
)

# Another process (a CLI run on the same profile) may hold the write lock for a moment.
_BUSY_TIMEOUT = 2.0

# The file's content is bad: moving it aside helps. Any other error (locked, permission,
# disk I/O) is about the surroundings, and moving the file would lose the user's list for nothing.
_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

_DAMAGED_MESSAGE = "The Piecemeal database was damaged and could not be read."

_REASONS = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_BUSY: "another program is using the database",
    sqlite3.SQLITE_LOCKED: "another program is using the database",
    sqlite3.SQLITE_IOERR: "the disk reported an input/output error",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_PERM: "permission was denied",
    sqlite3.SQLITE_CORRUPT: "the database file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is not a database",
    sqlite3.SQLITE_TOOBIG: "a value is too large to store",
}


class _Damaged(Exception):
    """The database file cannot be used as it is; the message says why, for the user."""


class Store:
    """The one database of a profile. Thread-safe: calls are serialized by a lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> tuple[Store, str | None]:
        """Open or create; a damaged file is moved aside, and the message tells the user where."""
        _make_parent(path)
        try:
            return cls(_connect(path)), None
        except _Damaged as damaged:
            aside = _move_aside(path)
            message = f"{damaged} It was moved to {aside} and a new, empty one was started."
        try:
            return cls(_connect(path)), message
        except _Damaged as damaged:
            raise StorageError(f"Could not create a new database at {path}: {damaged}") from None

    def close(self) -> None:
        """The last connection checkpoints the WAL into the database file and syncs it."""
        with self._using("close the database") as conn:
            conn.close()

    def save_torrent(self, record: TorrentRecord) -> None:
        """Insert or replace; the torrent's resume data is kept."""
        self.save_torrents((record,))

    def save_torrents(self, records: Iterable[TorrentRecord]) -> None:
        """Many in one transaction (one fsync): adding a folder of .torrent files."""
        rows = [_torrent_row(record) for record in records]
        with self._writing("save the torrent list", durable=True) as conn:
            conn.executemany(_UPSERT_TORRENT, rows)

    def update_torrent(self, info_hash: bytes, **changes: Any) -> None:
        """Change some fields, e.g. `paused=True`; KeyError if the torrent is not stored."""
        unknown = changes.keys() - _UPDATABLE
        if unknown:
            raise TypeError(f"TorrentRecord has no field(s) {', '.join(sorted(unknown))}")
        if not changes:
            return
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [_ENCODERS.get(name, _same)(value) for name, value in changes.items()]
        with self._writing("update the torrent", durable=True) as conn:
            cursor = conn.execute(
                f"UPDATE torrents SET {assignments} WHERE info_hash = ?", [*values, info_hash]
            )
        if cursor.rowcount == 0:
            raise KeyError(info_hash.hex())

    def set_summaries(self, summaries: dict[bytes, str]) -> None:
        """The summaries of torrents restored without one (a profile older than v7), in one
        transaction: the next start-up needs none of their .torrent bytes."""
        rows = [(summary, info_hash) for info_hash, summary in summaries.items()]
        with self._writing("save the torrent list", durable=False) as conn:
            conn.executemany("UPDATE torrents SET summary = ? WHERE info_hash = ?", rows)

    def remove_torrent(self, info_hash: bytes) -> None:
        with self._writing("remove the torrent", durable=True) as conn:
            conn.execute("DELETE FROM torrents WHERE info_hash = ?", (info_hash,))
            conn.execute("DELETE FROM resume WHERE info_hash = ?", (info_hash,))

    def torrents(self) -> list[TorrentRecord]:
        """Every stored torrent, in queue order."""
        with self._using("read the torrent list") as conn:
            rows = conn.execute(_SELECT_TORRENTS).fetchall()
        return [_torrent_from_row(row) for row in rows]

    def save_resume(self, record: ResumeRecord) -> None:
        self.save_resume_many((record,))

    def save_resume_many(self, records: Iterable[ResumeRecord]) -> None:
        """One transaction for all. The caller must have flushed (fsync) the data of every
        piece it marks verified before calling this: a verified bit is a claim about the disk."""
        rows = [_resume_row(record) for record in records]
        with self._writing("save resume data", durable=False) as conn:
            conn.executemany(_REPLACE_RESUME, rows)

    def all_resume(self) -> dict[bytes, ResumeRecord]:
        """Every torrent's resume data in one query (start-up)."""
        with self._using("read resume data") as conn:
            rows = conn.execute(_SELECT_ALL_RESUME).fetchall()
        return {record.info_hash: record for record in map(_resume_from_row, rows)}

    def resume(self, info_hash: bytes) -> ResumeRecord | None:
        with self._using("read resume data") as conn:
            row = conn.execute(_SELECT_RESUME, (info_hash,)).fetchone()
        return None if row is None else _resume_from_row(row)

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._using("read a setting") as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Any JSON value; tuples come back as lists."""
        text = json.dumps(value, allow_nan=False)
        with self._writing("save a setting", durable=True) as conn:
            conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, text))

    def settings(self) -> dict[str, Any]:
        with self._using("read the settings") as conn:
            rows = conn.execute("SELECT key, value FROM settings").fetchall()
        return {key: json.loads(text) for key, text in rows}

    @contextmanager
    def _using(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StorageError(f"Could not {action}: {_reason(exc)}.") from exc

    @contextmanager
    def _writing(self, action: str, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One transaction. In WAL mode a commit is in the WAL (the OS's cache) before it
        returns, so a killed process never loses one; `synchronous` only decides what a power
        cut or OS crash may roll back. The torrent list and settings record what the user did
        and are written rarely: FULL, an fsync per commit, so a power cut cannot bring back a
        removed torrent or forget an added one. Resume data is written often: NORMAL, no
        fsync. A power cut may roll it back to an older row, which claims fewer pieces and
        holds older file stamps, so `trustworthy` sends the torrent to a recheck: never a
        false claim."""
        with self._using(action) as conn:
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            with conn:
                yield conn


def file_stamps(paths: Sequence[Path]) -> tuple[tuple[int, int], ...]:
    """(size, mtime_ns) of each file; (-1, 0) for a missing one."""
    return tuple(_stamp(path) for path in paths)


def stamps_or_none(paths: Sequence[Path]) -> tuple[tuple[int, int], ...] | None:
    """The files' stamps, or None if they cannot be looked at: then the torrent is rechecked."""
    try:
        return file_stamps(paths)
    except StorageError:
        return None


def trustworthy(
    resume: ResumeRecord, current_stamps: Sequence[tuple[int, int]], num_pieces: int
) -> bool:
    """Resume data may skip the recheck only if the torrent and every file are as recorded."""
    return (
        resume.num_pieces == num_pieces
        and len(resume.verified) == (num_pieces + 7) // 8
        and resume.file_stamps == tuple(current_stamps)
    )


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return (-1, 0)
    except OSError as exc:
        raise StorageError(f"Could not look at {path}: {exc.strerror}.") from exc
    return (st.st_size, st.st_mtime_ns)


def _same(value: Any) -> Any:
    return value


def _encode_priorities(priorities: Sequence[int]) -> str:
    return json.dumps(list(priorities), separators=(",", ":"))


def _encode_stamps(stamps: Sequence[tuple[int, int]]) -> bytes:
    return struct.pack(f"<{2 * len(stamps)}q", *(n for stamp in stamps for n in stamp))


def _encode_tags(tags: Sequence[str]) -> str:
    return json.dumps(list(tags), ensure_ascii=False)


def _decode_stamps(blob: bytes) -> tuple[tuple[int, int], ...]:
    return tuple(struct.iter_unpack("<qq", blob))


_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "paused": int, "sequential": int, "choose_files": int, "super_seeding": int,
    "file_priorities": _encode_priorities, "tags": _encode_tags,
}


def _torrent_row(record: TorrentRecord) -> list[Any]:
    return [_ENCODERS.get(name, _same)(getattr(record, name)) for name in _TORRENT_COLUMNS]


def _torrent_from_row(row: tuple[Any, ...]) -> TorrentRecord:
    values = dict(zip(_TORRENT_COLUMNS, row))
    values["paused"] = bool(values["paused"])
    values["sequential"] = bool(values["sequential"])
    values["choose_files"] = bool(values["choose_files"])
    values["super_seeding"] = bool(values["super_seeding"])
    values["file_priorities"] = _decode_list(values["file_priorities"])
    values["tags"] = _decode_list(values["tags"])
    return TorrentRecord(**values)


def _decode_list(text: str) -> tuple[Any, ...]:
    return () if text == "[]" else tuple(json.loads(text))  # most rows: 10,000 at start-up


def _resume_row(record: ResumeRecord) -> list[Any]:
    row: list[Any] = [getattr(record, name) for name in _RESUME_COLUMNS]
    row[_STAMPS_COLUMN] = _encode_stamps(record.file_stamps)
    return row


def _resume_from_row(row: tuple[Any, ...]) -> ResumeRecord:
    values = list(row)
    values[_STAMPS_COLUMN] = _decode_stamps(values[_STAMPS_COLUMN])
    return ResumeRecord(*values)


def _reason(exc: sqlite3.Error) -> str:
    # Extended result codes keep the primary code in their low byte.
    primary = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    return _REASONS.get(primary, str(exc).rstrip("."))


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Could not create the folder {path.parent}: {exc.strerror}.") from exc


def _connect(path: Path) -> sqlite3.Connection:
    """A ready connection: WAL, checked, migrated; _Damaged if the file's content is bad."""
    try:
        # isolation_level IMMEDIATE: a write takes the lock when it begins, so a transaction
        # never fails half-way on a lock upgrade. check_same_thread off: Store's lock serializes.
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT, isolation_level="IMMEDIATE", check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StorageError(f"Could not open the database {path}: {_reason(exc)}.") from exc
    try:
        _prepare(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # quick_check reads every page once: it finds a truncated or scribbled file now, at
        # open, instead of as an error in the middle of a session.
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _Damaged(_DAMAGED_MESSAGE)
        _migrate(conn)
    except sqlite3.Error as exc:
        if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF in _DAMAGED:
            raise _Damaged(_DAMAGED_MESSAGE) from exc
        raise StorageError(f"Could not open the database {path}: {_reason(exc)}.") from exc


def _migrate(conn: sqlite3.Connection) -> None:
    """Each step and its version bump commit together: a crash leaves a whole version."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _Damaged("The Piecemeal database was written by a newer version of Piecemeal.")
    for number, statements in enumerate(_MIGRATIONS[version:], start=version + 1):
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def _move_aside(path: Path) -> Path:
    """Rename the database to `<name>.corrupt-<time>`, its WAL with it: the log belongs to
    that file, and the fresh database must not start next to a stranger's."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    attempt = 1
    while aside.exists():
        attempt += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{attempt}")
    try:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, f"{aside}{suffix}")
    except OSError as exc:
        raise StorageError(
            f"The database {path} is damaged and could not be moved aside: {exc.strerror}."
        ) from exc
    return aside
