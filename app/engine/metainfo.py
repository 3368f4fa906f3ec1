"""A .torrent file (BEP 3) turned into frozen dataclasses, validated and made safe.

Trackers follow BEP 12 (announce-list tiers), web seeds BEP 19, the private flag BEP 27,
pad files BEP 47, v2 and hybrid torrents BEP 52. Optional fields of the wrong type (comment, creation date, trackers...)
are ignored, as other clients do; required ones give a MetainfoError of one sentence.

File paths: one rule for every component of every path, the torrent name included.
  Refused (MetainfoError): whatever could lead outside the download folder or names
  nothing: empty, ``.``, ``..``, a ``..`` between separators, a leading ``/`` or ``\\``,
  a drive letter (``C:``).
  Made safe: separators, control characters and ``<>:"|?*`` become ``_``; a component
  longer than 255 UTF-8 bytes is cut, keeping its extension; trailing dots and spaces
  are dropped (``_`` if nothing is left); Windows device names (CON, PRN, AUX, NUL,
  COM1-9, LPT1-9, with any extension) get ``_`` after the stem: ``con.txt`` -> ``con_.txt``.
  Two files that end up at the same path, compared case-insensitively, or a file that
  is also a folder of another, are refused. Hence every path stays inside the save folder
  on every platform.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from app.engine.bencode import decode_info, decode_torrent, encode
from app.engine.errors import MetainfoError
from app.engine.merkle import BLOCK_SIZE, HASH_SIZE, root_from_layer

MAX_PIECE_LENGTH = 128 * 1024 * 1024
MAX_TOTAL_LENGTH = 2**50
MAX_TORRENT_FILE_BYTES = 64 * 1024 * 1024
MAX_COMPONENT_BYTES = 255
_MAX_KEPT_EXTENSION_BYTES = 32
_TRACKER_SCHEMES = frozenset({"http", "https", "udp"})
_WEB_SEED_SCHEMES = frozenset({"http", "https"})
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
_DRIVE = re.compile(r"[A-Za-z]:")
_SEPARATORS = re.compile(r"[/\\]")
_RESERVED_STEMS = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{digit}" for digit in range(1, 10)]
    + [f"LPT{digit}" for digit in range(1, 10)]
)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the torrent, where it sits on disk and in the concatenated data."""

    path: tuple[str, ...]  # relative to the save folder; multi-file: the name comes first
    length: int
    offset: int  # byte offset of the file's first byte in the torrent's concatenated data
    padding: bool = False  # BEP 47 pad file: counted in offsets, never created on disk
    pieces_root: bytes = b""  # BEP 52: the file's SHA-256 merkle root (v2 and hybrid, non-empty)


@dataclass(frozen=True, slots=True)
class Metainfo:
    """Everything a .torrent file says, validated."""

    info_hash: bytes  # SHA-1 over raw_info
    name: str
    piece_length: int
    piece_hashes: bytes  # concatenated 20-byte SHA-1s
    files: tuple[FileEntry, ...]
    total_length: int
    trackers: tuple[tuple[str, ...], ...]  # BEP 12 tiers, in file order
    private: bool
    url_list: tuple[str, ...]  # BEP 19 web seeds
    comment: str
    created_by: str
    creation_date: int | None
    raw_info: bytes  # the info dictionary exactly as it appears in the file
    multi_file: bool
    http_seeds: tuple[str, ...] = ()  # BEP 17 seed scripts (older than BEP 19, rarely seen)
    format: str = "v1"  # "v1", "v2" (BEP 52 only) or "hybrid" (both, BEP 52 upgrade path)
    info_hash_v2: bytes | None = None  # BEP 52: SHA-256 over raw_info; None for v1
    # BEP 52 'piece layers': pieces root -> concatenated piece-layer hashes. Never mutated.
    piece_layers: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def num_pieces(self) -> int:
        return -(-self.total_length // self.piece_length)

    @property
    def info_hash_hex(self) -> str:
        return self.info_hash.hex()

    def piece_hash(self, index: int) -> bytes:
        self._check_index(index)
        return self.piece_hashes[index * 20 : index * 20 + 20]

    def piece_size(self, index: int) -> int:
        """The piece's length in bytes: piece_length, except a shorter last piece."""
        self._check_index(index)
        return min(self.piece_length, self.total_length - index * self.piece_length)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.num_pieces:
            raise IndexError(f"piece {index} is outside 0..{self.num_pieces - 1}")


@dataclass(frozen=True, slots=True)
class _Layout:
    """What the info dictionary says, before the top-level extras are added."""

    name: str
    piece_length: int
    piece_hashes: bytes
    files: tuple[FileEntry, ...]
    total_length: int
    private: bool
    multi_file: bool
    format: str = "v1"


def load_metainfo(path: str | os.PathLike[str]) -> Metainfo:
    """Read and parse a .torrent file; every failure is a MetainfoError "<file name>: <problem>"."""
    file_name = os.path.basename(os.fspath(path))
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_TORRENT_FILE_BYTES + 1)
    except OSError as error:
        raise MetainfoError(f"{file_name}: {_os_reason(error)}") from error
    if len(data) > MAX_TORRENT_FILE_BYTES:
        raise MetainfoError(f"{file_name}: the file is too large to be a torrent file")
    try:
        return parse_metainfo(data)
    except MetainfoError as error:
        raise MetainfoError(f"{file_name}: {error}") from error


def _os_reason(error: OSError) -> str:
    reason = error.strerror or str(error)
    return reason[:1].lower() + reason[1:]


def parse_metainfo(data: bytes) -> Metainfo:
    """Parse the bytes of a .torrent file."""
    top, span = decode_torrent(data)
    if not isinstance(top, dict):
        raise MetainfoError("the torrent is not a bencoded dictionary")
    if b"info" not in top:
        raise MetainfoError("the torrent has no 'info' dictionary")
    if span is None or not isinstance(top[b"info"], dict):
        raise MetainfoError("'info' must be a dictionary")
    raw_info = bytes(data[span[0] : span[1]])
    layout = _layout(top[b"info"])
    return _metainfo(
        layout,
        raw_info,
        trackers=_top_level_trackers(top),
        url_list=_web_seeds(top.get(b"url-list")),
        http_seeds=_web_seeds(top.get(b"httpseeds")),
        comment=_text(top, b"comment") or "",
        created_by=_text(top, b"created by") or "",
        creation_date=_creation_date(top.get(b"creation date")),
        # BEP 52: "A torrent is not valid if this field is absent". We need it for v2-only
        # torrents; a hybrid's pieces are checked by SHA-1 without it (and one from a magnet
        # link, saved and loaded again, has none).
        piece_layers=_piece_layers(top.get(b"piece layers"), layout, required=layout.format == "v2"),
    )


def parse_info(
    raw_info: bytes,
    *,
    trackers: Sequence[Sequence[str]] = (),
    url_list: Sequence[str] = (),
    piece_layers: dict[bytes, bytes] | None = None,
) -> Metainfo:
    """Parse an info dictionary on its own (BEP 9 metadata from a magnet link's peers).

    BEP 52 piece layers live outside the info dictionary: a magnet link brings none, so
    the ones given (if any) are checked but not required.
    """
    info = decode_info(raw_info)
    if not isinstance(info, dict):
        raise MetainfoError("'info' must be a dictionary")
    layout = _layout(info)
    return _metainfo(
        layout,
        bytes(raw_info),
        trackers=_tiers(trackers),
        url_list=_web_seeds([url.encode("utf-8") for url in url_list]),
        comment="",
        created_by="",
        creation_date=None,
        piece_layers=_piece_layers(piece_layers, layout, required=False),
    )


def _metainfo(layout: _Layout, raw_info: bytes, **extras: Any) -> Metainfo:
    sha256 = hashlib.sha256(raw_info).digest()
    # BEP 52: a v2 info-hash "is truncated to 20 bytes" where a torrent identifier is needed.
    info_hash = sha256[:20] if layout.format == "v2" else hashlib.sha1(raw_info).digest()
    return Metainfo(
        info_hash=info_hash,
        name=layout.name,
        piece_length=layout.piece_length,
        piece_hashes=layout.piece_hashes,
        files=layout.files,
        total_length=layout.total_length,
        private=layout.private,
        raw_info=raw_info,
        multi_file=layout.multi_file,
        format=layout.format,
        info_hash_v2=None if layout.format == "v1" else sha256,
        **extras,
    )


# --- the info dictionary -------------------------------------------------------------


def _layout(info: dict[bytes, Any]) -> _Layout:
    """BEP 52: 'meta version' is checked first, so a newer format gets its own message."""
    version = info.get(b"meta version")
    if version is None:
        return _v1_layout(info)
    if version != 2:
        raise MetainfoError(f"the torrent uses meta version {version!r}, which Piecemeal cannot read")
    if b"pieces" in info:
        return _hybrid_layout(info)
    return _v2_layout(info)


def _v1_layout(info: dict[bytes, Any]) -> _Layout:
    name = _name(info)
    piece_length = _piece_length(info)
    piece_hashes = _piece_hashes(info)
    multi_file = b"files" in info
    if multi_file and b"length" in info:
        raise MetainfoError("'info' has both 'length' and 'files'")
    files = _multi_files(info, name) if multi_file else _single_file(info, name)
    total = sum(entry.length for entry in files)
    _check_sizes(total, piece_length, len(piece_hashes) // 20)
    _check_collisions(files)
    return _Layout(
        name=name,
        piece_length=piece_length,
        piece_hashes=piece_hashes,
        files=files,
        total_length=total,
        private=info.get(b"private") == 1,  # BEP 27
        multi_file=multi_file,
    )


def _v2_layout(info: dict[bytes, Any]) -> _Layout:
    name = _name(info)
    piece_length = _v2_piece_length(info)
    tree_files = _tree_files(info.get(b"file tree"), name)
    files = _aligned(tree_files, piece_length, name)
    total = sum(entry.length for entry in files)
    if total > MAX_TOTAL_LENGTH:
        raise MetainfoError("the total size is larger than 1 PiB")
    if total == 0:
        raise MetainfoError("the torrent contains no data")
    _check_collisions(files)
    return _Layout(
        name=name,
        piece_length=piece_length,
        piece_hashes=b"",
        files=files,
        total_length=total,
        private=info.get(b"private") == 1,  # BEP 27
        multi_file=len(tree_files) > 1 or tree_files[0].path != (name,),
        format="v2",
    )


def _hybrid_layout(info: dict[bytes, Any]) -> _Layout:
    """BEP 52 upgrade path: the v1 file list (with BEP 47 pad files) must describe the
    same files, in the same order and piece-aligned, as the v2 file tree."""
    piece_length = _v2_piece_length(info)
    v1 = _v1_layout(info)
    tree_files = _tree_files(info.get(b"file tree"), v1.name)
    real = [entry for entry in v1.files if not entry.padding]
    if [(e.path, e.length) for e in real] != [(e.path, e.length) for e in tree_files]:
        raise MetainfoError("the v1 file list and the v2 file tree of this hybrid torrent differ")
    for entry in real:
        if entry.length and entry.offset % piece_length:
            shown = "/".join(entry.path)
            raise MetainfoError(f"'{shown}' does not start at a piece boundary, as a hybrid torrent needs")
    roots = iter(entry.pieces_root for entry in tree_files)
    files = tuple(f if f.padding else replace(f, pieces_root=next(roots)) for f in v1.files)
    return replace(v1, files=files, format="hybrid")


def _v2_piece_length(info: dict[bytes, Any]) -> int:
    value = _piece_length(info)
    # BEP 52: "It must be a power of two and at least 16KiB."
    if value < BLOCK_SIZE or value & (value - 1):
        raise MetainfoError(f"'piece length' of {value} bytes is not a power of two of 16 KiB or more")
    return value


# --- the BEP 52 file tree ------------------------------------------------------------


def _tree_files(tree: Any, name: str) -> tuple[FileEntry, ...]:
    """The files of 'file tree', depth first in key order, with offsets left at 0."""
    if not isinstance(tree, dict) or not tree:
        raise MetainfoError("'file tree' must be a non-empty dictionary")
    if b"" in tree:
        raise MetainfoError("the root of 'file tree' must be a folder, not a file")
    found: list[tuple[tuple[bytes, ...], int, bytes]] = []
    _walk(tree, (), found)
    single = len(found) == 1 and len(found[0][0]) == 1
    return tuple(
        FileEntry(_tree_path(parts, name, single), length, 0, pieces_root=root)
        for parts, length, root in found
    )


def _walk(node: dict[bytes, Any], prefix: tuple[bytes, ...], found: list[Any]) -> None:
    for key in sorted(node):
        parts = (*prefix, key)
        child = node[key]
        shown = b"/".join(parts).decode("utf-8", "replace")
        if not isinstance(child, dict) or not child:
            raise MetainfoError(f"'{shown}' in 'file tree' is not a non-empty dictionary")
        if b"" not in child:
            _walk(child, parts, found)
        elif len(child) > 1:
            raise MetainfoError(f"'{shown}' in 'file tree' is both a file and a folder")
        else:
            found.append((parts, *_tree_file(child[b""], shown)))


def _tree_file(properties: Any, shown: str) -> tuple[int, bytes]:
    if not isinstance(properties, dict):
        raise MetainfoError(f"file '{shown}' in 'file tree' is not a dictionary")
    length = properties.get(b"length")
    if not _is_int(length) or length < 0:
        raise MetainfoError(f"file '{shown}': 'length' must be a non-negative integer")
    root = properties.get(b"pieces root", b"")
    if length and (not isinstance(root, bytes) or len(root) != HASH_SIZE):
        raise MetainfoError(f"file '{shown}': 'pieces root' must be a 32-byte string")
    return length, root if length else b""


def _tree_path(parts: tuple[bytes, ...], name: str, single: bool) -> tuple[str, ...]:
    """As for v1: a single file is named by 'name'; otherwise 'name' is the top folder."""
    if single:
        return (name,)
    return (name, *_safe_path([part.decode("utf-8", "replace") for part in parts]))


def _aligned(files: Sequence[FileEntry], piece_length: int, name: str) -> tuple[FileEntry, ...]:
    """BEP 52: "each non-empty file is aligned to a piece boundary"; the gaps become pad
    files, after the last file too, as libtorrent counts them (its pieces are all whole)."""
    placed: list[FileEntry] = []
    offset = 0
    for entry in files:
        placed.append(replace(entry, offset=offset))
        offset += entry.length
        gap = -offset % piece_length
        if gap:
            placed.append(FileEntry((name, ".pad", str(gap)), gap, offset, padding=True))
            offset += gap
    return tuple(placed)


def _piece_layers(value: Any, layout: _Layout, *, required: bool) -> dict[bytes, bytes]:
    """BEP 52: one layer per file larger than a piece, checked against its pieces root.

    Absent, it is an error only when `required`; present, it must be complete.
    """
    if layout.format == "v1" or (value is None and not required):
        return {}
    if not isinstance(value, dict):
        raise MetainfoError("'piece layers' must be a dictionary")
    layers: dict[bytes, bytes] = {}
    for entry in layout.files:
        if entry.padding or entry.length <= layout.piece_length:
            continue
        layer = value.get(entry.pieces_root)
        if layer is None:
            raise MetainfoError(f"'piece layers' has no hashes for '{'/'.join(entry.path)}'")
        layers[entry.pieces_root] = _checked_layer(entry, layer, layout.piece_length)
    return layers


def _checked_layer(entry: FileEntry, layer: Any, piece_length: int) -> bytes:
    shown = "/".join(entry.path)
    count = -(-entry.length // piece_length)
    if not isinstance(layer, bytes) or len(layer) != count * HASH_SIZE:
        raise MetainfoError(f"the piece layer of '{shown}' must hold {count} hashes of 32 bytes")
    hashes = [layer[i : i + HASH_SIZE] for i in range(0, len(layer), HASH_SIZE)]
    if root_from_layer(hashes, piece_length) != entry.pieces_root:
        raise MetainfoError(f"the piece layer of '{shown}' does not match its pieces root")
    return layer


def _name(info: dict[bytes, Any]) -> str:
    name = _text(info, b"name")
    if name is None:
        raise MetainfoError("'name' must be a byte string")
    return _safe_path([name])[0]


def _piece_length(info: dict[bytes, Any]) -> int:
    value = info.get(b"piece length")
    if not _is_int(value) or value <= 0:
        raise MetainfoError("'piece length' must be a positive integer")
    if value > MAX_PIECE_LENGTH:
        raise MetainfoError(f"'piece length' of {value} bytes is larger than 128 MiB")
    return int(value)


def _piece_hashes(info: dict[bytes, Any]) -> bytes:
    value = info.get(b"pieces")
    if value is None and b"file tree" in info:
        raise MetainfoError("'file tree' needs 'meta version' 2 (BEP 52)")
    if not isinstance(value, bytes) or len(value) % 20:
        raise MetainfoError("'pieces' must be a byte string whose length is a multiple of 20")
    return value


def _single_file(info: dict[bytes, Any], name: str) -> tuple[FileEntry, ...]:
    length = info.get(b"length")
    if not _is_int(length) or length < 0:
        raise MetainfoError("'length' must be a non-negative integer")
    return (FileEntry(path=(name,), length=length, offset=0),)


def _multi_files(info: dict[bytes, Any], name: str) -> tuple[FileEntry, ...]:
    entries = info[b"files"]
    if not isinstance(entries, list) or not entries:
        raise MetainfoError("'files' must be a non-empty list")
    files: list[FileEntry] = []
    offset = 0
    for number, entry in enumerate(entries, start=1):
        files.append(_file_entry(entry, number, name, offset))
        offset += files[-1].length
    return tuple(files)


def _file_entry(entry: Any, number: int, name: str, offset: int) -> FileEntry:
    if not isinstance(entry, dict):
        raise MetainfoError(f"file {number} in 'files' is not a dictionary")
    length = entry.get(b"length")
    if not _is_int(length) or length < 0:
        raise MetainfoError(f"file {number}: 'length' must be a non-negative integer")
    components = _path_components(entry)
    if components is None:
        raise MetainfoError(f"file {number}: 'path' must be a non-empty list of byte strings")
    attributes = entry.get(b"attr")
    padding = isinstance(attributes, bytes) and b"p" in attributes  # BEP 47
    return FileEntry((name, *_safe_path(components)), length, offset, padding)


def _path_components(entry: dict[bytes, Any]) -> list[str] | None:
    """The path as text, preferring the 'path.utf-8' variant when it is valid."""
    preferred = _utf8_list(entry.get(b"path.utf-8"), errors="strict")
    return preferred if preferred is not None else _utf8_list(entry.get(b"path"), "replace")


def _utf8_list(value: Any, errors: str) -> list[str] | None:
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(part, bytes) for part in value):
        return None
    try:
        return [part.decode("utf-8", errors) for part in value]
    except UnicodeDecodeError:
        return None


def _check_sizes(total: int, piece_length: int, piece_count: int) -> None:
    if total > MAX_TOTAL_LENGTH:
        raise MetainfoError("the total size is larger than 1 PiB")
    if total == 0:
        raise MetainfoError("the torrent contains no data")
    needed = -(-total // piece_length)
    if piece_count != needed:
        raise MetainfoError(f"'pieces' holds {piece_count} hashes but the files need {needed}")


def _check_collisions(files: Iterable[FileEntry]) -> None:
    real = [entry.path for entry in files if not entry.padding]
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    for path in real:
        key = _comparable(path)
        if key in seen:
            raise MetainfoError(f"two files map to the same path '{'/'.join(path)}'")
        seen[key] = path
    folders = {key[:depth] for key in seen for depth in range(1, len(key))}
    for key, path in seen.items():
        if key in folders:
            raise MetainfoError(f"'{'/'.join(path)}' is both a file and a folder")


def _comparable(path: tuple[str, ...]) -> tuple[str, ...]:
    # Case-insensitive and normalization-insensitive file systems (Windows, macOS).
    return tuple(unicodedata.normalize("NFC", part).casefold() for part in path)


# --- path sanitizing -----------------------------------------------------------------


def _safe_path(components: Sequence[str]) -> tuple[str, ...]:
    shown = "/".join(components)
    for component in components:
        problem = _escape_problem(component)
        if problem:
            raise MetainfoError(f"the file path '{shown}' is unsafe: {problem}")
    return tuple(safe_component(component) for component in components)


def _escape_problem(component: str) -> str:
    """Why a component could leave the save folder or names nothing; '' when it cannot."""
    if component in ("", "."):
        return "it has an empty or '.' component"
    if component.startswith(("/", "\\")):
        return "it is absolute"
    if _DRIVE.match(component):
        return "it names a drive"
    if ".." in _SEPARATORS.split(component):
        return "'..' would lead outside the download folder"
    return ""


def safe_component(component: str) -> str:
    """Make one path component (already free of traversal) safe on every file system."""
    text = _UNSAFE_CHARACTERS.sub("_", component)
    text = _truncate(text).rstrip(". ") or "_"
    stem, dot, rest = text.partition(".")
    if stem.upper() in _RESERVED_STEMS:
        return f"{stem}_{dot}{rest}"
    return text


def _truncate(text: str) -> str:
    if len(text.encode("utf-8")) <= MAX_COMPONENT_BYTES:
        return text
    stem, extension = os.path.splitext(text)
    if len(extension.encode("utf-8")) > _MAX_KEPT_EXTENSION_BYTES:
        stem, extension = text, ""
    room = MAX_COMPONENT_BYTES - len(extension.encode("utf-8"))
    # Cutting may split a multi-byte character: drop its remains.
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore") + extension


# --- top-level fields ----------------------------------------------------------------


def _text(mapping: dict[bytes, Any], key: bytes) -> str | None:
    """A text field, from its '.utf-8' variant when valid, else decoded leniently."""
    preferred = mapping.get(key + b".utf-8")
    if isinstance(preferred, bytes):
        try:
            return preferred.decode("utf-8")
        except UnicodeDecodeError:
            pass
    value = mapping.get(key)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else None


def _top_level_trackers(top: dict[bytes, Any]) -> tuple[tuple[str, ...], ...]:
    """BEP 12: announce-list overrides announce when it holds at least one usable URL."""
    announce_list = top.get(b"announce-list")
    if isinstance(announce_list, list):
        tiers = _tiers([_decoded_urls(tier) for tier in announce_list if isinstance(tier, list)])
        if tiers:
            return tiers
    return _tiers([_decoded_urls([top.get(b"announce")])])


def _decoded_urls(values: Iterable[Any]) -> list[str]:
    return [value.decode("utf-8", "replace") for value in values if isinstance(value, bytes)]


def _tiers(tiers: Iterable[Iterable[str]]) -> tuple[tuple[str, ...], ...]:
    """Keep usable tracker URLs once each (first occurrence wins), drop empty tiers."""
    seen: set[str] = set()
    kept: list[tuple[str, ...]] = []
    for tier in tiers:
        urls = [url.strip() for url in tier if is_tracker_url(url.strip())]
        fresh = tuple(dict.fromkeys(url for url in urls if url not in seen))
        seen.update(fresh)
        if fresh:
            kept.append(fresh)
    return tuple(kept)


def _web_seeds(value: Any) -> tuple[str, ...]:
    """BEP 19: 'url-list' is one URL or a list of them (BEP 17's 'httpseeds' too, in practice)."""
    values = [value] if isinstance(value, bytes) else value if isinstance(value, list) else []
    urls = [url.strip() for url in _decoded_urls(values)]
    return tuple(dict.fromkeys(url for url in urls if is_web_seed_url(url)))


def is_tracker_url(url: str) -> bool:
    """True for the tracker URLs we can announce to: http, https and udp (BEP 15)."""
    return _has_scheme(url, _TRACKER_SCHEMES)


def is_web_seed_url(url: str) -> bool:
    """True for the BEP 19 web seeds we can download from: http and https."""
    return _has_scheme(url, _WEB_SEED_SCHEMES)


def _has_scheme(url: str, schemes: frozenset[str]) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in schemes and bool(parts.netloc)


def _creation_date(value: Any) -> int | None:
    return value if _is_int(value) and value >= 0 else None


def _is_int(value: Any) -> TypeGuard[int]:
    return type(value) is int


def to_torrent_bytes(meta: Metainfo) -> bytes:
    """A .torrent file for `meta`, with its info dictionary byte for byte as it was received."""
    fields: dict[bytes, Any] = {}
    if meta.trackers:
        fields[b"announce"] = meta.trackers[0][0]
        fields[b"announce-list"] = [list(tier) for tier in meta.trackers]
    if meta.comment:
        fields[b"comment"] = meta.comment
    if meta.created_by:
        fields[b"created by"] = meta.created_by
    if meta.creation_date is not None:
        fields[b"creation date"] = meta.creation_date
    if meta.url_list:
        fields[b"url-list"] = list(meta.url_list)
    if meta.http_seeds:
        fields[b"httpseeds"] = list(meta.http_seeds)
    if meta.piece_layers:
        fields[b"piece layers"] = dict(meta.piece_layers)  # BEP 52
    before = b"".join(encode(k) + encode(v) for k, v in sorted(fields.items()) if k < b"info")
    after = b"".join(encode(k) + encode(v) for k, v in sorted(fields.items()) if k > b"info")
    return b"d" + before + b"4:info" + meta.raw_info + after + b"e"
