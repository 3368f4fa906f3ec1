"""Strict bencode (BEP 3): canonical decoding with byte offsets, sorted encoding.

bencodepy is lax (it accepts ``i03e``, ``i-0e``, trailing garbage, unsorted keys and
reports no offsets), recursive, and writes ``True`` as ``iTruee``. So both directions are
our own: an iterative scanner that validates and builds the value in one pass, and a
writer that sorts keys. Measured on a 3 MB torrent with 20,000 files, the scanner needs
within 20% of the time of bencodepy's decoder alone (which would still want a validating
pass first), and the writer half the time of bencodepy's encoder.

Rules enforced on decode: integers are ``i<canonical decimal>e`` within signed 64 bits
(no leading zeros, no ``-0``, nothing empty); string lengths are canonical and inside
the data; dictionary keys are byte strings, strictly ascending (hence unique); nothing
follows the top-level value (except through ``decode_prefix``); nesting stops at 100
levels. The one relaxation: inside a torrent's ``info`` dictionary (``decode_torrent``)
or an info dictionary alone (``decode_info``), keys may be out of order, because real
torrents exist like that and the info-hash is SHA-1 over the bytes exactly as written.
Duplicate keys are refused everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

from app.engine.errors import BencodeError

MAX_DEPTH = 100
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# BEP 3: "i-0e is invalid. All encodings with a leading zero, such as i03e, are invalid".
_INTEGER = re.compile(rb"i(0|-?[1-9][0-9]{0,18})e")
_LENGTH = re.compile(rb"(0|[1-9][0-9]{0,15}):")
_DIGITS = frozenset(b"0123456789")
_INFO_KEY = b"info"
_INTEGER_START, _LIST_START, _DICT_START, _END = b"ilde"


class _Relax(Enum):
    """Where dictionary keys may be out of order."""

    NOWHERE = auto()
    TOP_LEVEL_INFO = auto()  # inside the value of the top-level dict's b"info" key
    EVERYWHERE = auto()  # the whole value is an info dictionary


class _Frame:
    """An open list or dictionary on the scanner's stack."""

    __slots__ = ("value", "is_dict", "key", "last_key", "sorted_keys")

    def __init__(self, value: list[Any] | dict[bytes, Any], sorted_keys: bool) -> None:
        self.value: Any = value
        self.is_dict = type(value) is dict
        self.key: bytes | None = None  # dictionaries: the key waiting for its value
        self.last_key: bytes | None = None
        self.sorted_keys = sorted_keys


class _Scanner:
    """Iterative (never recursive) strict decoder over ``data`` from ``pos``.

    The loop is written out for speed (a torrent with 20,000 files is ~150,000 tokens):
    byte strings and integers are read inline, containers and errors go to helpers.
    """

    def __init__(self, data: bytes, pos: int, relax: _Relax) -> None:
        self.data = data
        self.pos = pos
        self.relax = relax
        self.stack: list[_Frame] = []
        self.value: Any = None
        self.info_start = -1
        self.info_span: tuple[int, int] | None = None

    def run(self) -> None:
        """Scan one value; afterwards ``value`` holds it and ``pos`` is just past it."""
        data, stack, size = self.data, self.stack, len(self.data)
        match_length, match_integer = _LENGTH.match, _INTEGER.match
        pos = self.pos
        while True:
            if pos >= size:
                raise BencodeError(f"data ends early at byte {pos}")
            token = data[pos]
            frame = stack[-1] if stack else None
            if token in _DIGITS:
                match = match_length(data, pos)
                if match is None:
                    raise BencodeError(f"bad string length at byte {pos}")
                start = match.end()
                end = start + int(match.group(1))
                if end > size:
                    raise BencodeError(f"string at byte {pos} runs past the end of the data")
                if frame is not None and frame.is_dict and frame.key is None:
                    self._accept_key(frame, data[start:end], pos, end)
                    pos = end
                    continue
                value: Any = data[start:end]
                pos = end
            elif frame is not None and frame.is_dict and frame.key is None and token != _END:
                raise BencodeError(f"dictionary key at byte {pos} is not a byte string")
            elif token == _INTEGER_START:
                match = match_integer(data, pos)
                if match is None:
                    raise BencodeError(f"bad integer at byte {pos}")
                value = _checked_int(int(match.group(1)), pos)
                pos = match.end()
            elif token in (_LIST_START, _DICT_START):
                self._push([] if token == _LIST_START else {}, pos)
                pos += 1
                continue
            elif token == _END:
                value = self._pop(pos)
                pos += 1
                frame = stack[-1] if stack else None
            else:
                raise BencodeError(f"unexpected byte {_show(token)} at byte {pos}")
            if frame is None:
                self.value, self.pos = value, pos
                return
            if frame.is_dict:
                if frame.key == _INFO_KEY and len(stack) == 1:
                    self.info_span = (self.info_start, pos)
                frame.value[frame.key] = value
                frame.key = None
            else:
                frame.value.append(value)

    def _push(self, container: list[Any] | dict[bytes, Any], pos: int) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise BencodeError(f"nesting deeper than {MAX_DEPTH} levels at byte {pos}")
        self.stack.append(_Frame(container, self._child_sorted_keys()))

    def _child_sorted_keys(self) -> bool:
        if not self.stack:
            return self.relax is not _Relax.EVERYWHERE
        parent = self.stack[-1]
        opens_info = len(self.stack) == 1 and parent.key == _INFO_KEY
        if opens_info and self.relax is _Relax.TOP_LEVEL_INFO:
            return False
        return parent.sorted_keys

    def _pop(self, pos: int) -> Any:
        if not self.stack:
            raise BencodeError(f"unexpected byte 'e' at byte {pos}")
        frame = self.stack.pop()
        if frame.is_dict and frame.key is not None:
            raise BencodeError(f"dictionary key has no value at byte {pos}")
        return frame.value

    def _accept_key(self, frame: _Frame, key: bytes, pos: int, value_start: int) -> None:
        if key in frame.value:
            raise BencodeError(f"duplicate dictionary key at byte {pos}")
        if frame.sorted_keys and frame.last_key is not None and key < frame.last_key:
            raise BencodeError(f"dictionary key out of order at byte {pos}")
        frame.key = frame.last_key = key
        if key == _INFO_KEY and len(self.stack) == 1:
            self.info_start = value_start


def _checked_int(value: int, pos: int) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise BencodeError(f"integer out of 64-bit range at byte {pos}")
    return value


def _show(byte: int) -> str:
    return repr(chr(byte)) if 0x20 < byte < 0x7F else f"0x{byte:02x}"


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


def _scan_whole(data: bytes, relax: _Relax) -> _Scanner:
    scanner = _Scanner(data, 0, relax)
    scanner.run()
    if scanner.pos != len(data):
        raise BencodeError(f"unexpected data at byte {scanner.pos} after the end of the value")
    return scanner


def decode(data: bytes | bytearray | memoryview) -> Any:
    """Decode one canonical bencoded value that fills ``data`` exactly.

    Returns dict (bytes keys), list, int or bytes; raises BencodeError naming the byte offset.
    """
    return _scan_whole(_as_bytes(data), _Relax.NOWHERE).value


def decode_prefix(data: bytes | bytearray | memoryview, start: int = 0) -> tuple[Any, int]:
    """Decode the strict value starting at ``start``; return it and the offset where it ended.

    BEP 9: a ut_metadata "data" message is a bencoded dict followed by raw piece bytes.
    """
    data = _as_bytes(data)
    if not 0 <= start <= len(data):
        raise ValueError(f"start {start} is outside the data")
    scanner = _Scanner(data, start, _Relax.NOWHERE)
    scanner.run()
    return scanner.value, scanner.pos


def decode_torrent(data: bytes | bytearray | memoryview) -> tuple[Any, tuple[int, int] | None]:
    """Decode a whole .torrent file; also return the [start, end) span of the top-level ``info``.

    Keys inside ``info`` may be unsorted (the info-hash covers the bytes as written); the
    span is None when the value is not a dictionary with an ``info`` key.
    """
    scanner = _scan_whole(_as_bytes(data), _Relax.TOP_LEVEL_INFO)
    return scanner.value, scanner.info_span


def decode_info(raw_info: bytes | bytearray | memoryview) -> Any:
    """Decode an info dictionary on its own (BEP 9 metadata), allowing unsorted keys."""
    return _scan_whole(_as_bytes(raw_info), _Relax.EVERYWHERE).value


def info_span(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """The exact [start, end) byte span of the top-level ``info`` value of a .torrent file."""
    _, span = decode_torrent(data)
    if span is None:
        raise BencodeError("the data has no top-level 'info' entry")
    return span


def encode(obj: Any) -> bytes:
    """Bencode ``obj`` with dictionary keys sorted (str keys and values are UTF-8).

    Raises TypeError for bool and any type other than int, bytes, str, list, tuple, dict;
    ValueError for an integer outside 64 bits or two keys equal once encoded.
    """
    out: list[bytes] = []
    _write(obj, out)
    return b"".join(out)


def _write(obj: Any, out: list[bytes]) -> None:
    writer = _WRITERS.get(type(obj))
    if writer is None:
        raise TypeError(f"cannot bencode a value of type {type(obj).__name__}")
    writer(obj, out)


def _write_bytes(value: bytes | bytearray | memoryview, out: list[bytes]) -> None:
    value = bytes(value)
    out.append(b"%d:" % len(value))
    out.append(value)


def _write_str(value: str, out: list[bytes]) -> None:
    _write_bytes(value.encode("utf-8"), out)


def _write_int(value: int, out: list[bytes]) -> None:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"integer {value} does not fit in 64 bits")
    out.append(b"i%de" % value)


def _write_list(items: list[Any] | tuple[Any, ...], out: list[bytes]) -> None:
    out.append(b"l")
    for item in items:
        _write(item, out)
    out.append(b"e")


def _write_dict(mapping: dict[Any, Any], out: list[bytes]) -> None:
    # BEP 3: "Keys must be strings and appear in sorted order (sorted as raw strings)".
    items = {_key_bytes(key): value for key, value in mapping.items()}
    if len(items) != len(mapping):
        raise ValueError("two dictionary keys are the same once encoded as bytes")
    out.append(b"d")
    for key in sorted(items):
        _write_bytes(key, out)
        _write(items[key], out)
    out.append(b"e")


def _key_bytes(key: Any) -> bytes:
    if type(key) is str:
        return key.encode("utf-8")
    if type(key) in (bytes, bytearray, memoryview):
        return bytes(key)
    raise TypeError(f"dictionary keys must be bytes or str, not {type(key).__name__}")


_WRITERS: dict[type, Callable[[Any, list[bytes]], None]] = {
    int: _write_int,
    bytes: _write_bytes,
    bytearray: _write_bytes,
    memoryview: _write_bytes,
    str: _write_str,
    list: _write_list,
    tuple: _write_list,
    dict: _write_dict,
}
