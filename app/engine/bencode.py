"""Strict bencode (BEP 3) over bencodepy: canonical decoding with byte offsets, sorted encoding.

bencodepy builds and writes the values; this module makes it strict. bencodepy alone is
lax (it accepts ``i03e``, ``i-0e``, trailing garbage and unsorted keys, and reports no
offsets), returns a bare top-level value wrapped in a tuple and dictionaries as
``OrderedDict`` (whose equality depends on key order), writes dictionaries in insertion
order and ``True`` as ``iTruee``. So:

- decoding runs an iterative validator over the bytes first (it builds nothing and
  raises BencodeError naming the byte offset), then lets ``bencodepy.decode`` build the
  value of exactly the validated span, and normalises it (the tuple unwrapped, every
  ``OrderedDict`` turned into a plain ``dict``);
- encoding prepares the value first (refuses bool and unsupported types, converts str
  and byte-likes to bytes, sorts dictionary keys as raw bytes) and lets
  ``bencodepy.encode`` write it.

Rules enforced on decode: integers are ``i<canonical decimal>e`` within signed 64 bits
(no leading zeros, no ``-0``, nothing empty); string lengths are canonical and inside
the data; dictionary keys are byte strings, strictly ascending (hence unique); nothing
follows the top-level value (except through ``decode_prefix``); nesting stops at 100
levels. Relaxations of the key order only (duplicates are refused everywhere): inside a
torrent's ``info`` dictionary (``decode_torrent``) and in an info dictionary alone
(``decode_info``), because real torrents exist like that and the info-hash is SHA-1 over
the bytes exactly as written; and everywhere with ``sorted_keys=False``, for tracker
responses and peers' extension messages, which some implementations send unsorted.

Public API:
    decode(data, *, sorted_keys=True) -> Any
    decode_prefix(data, start=0, *, sorted_keys=True) -> (value, end offset)
    decode_torrent(data) -> (value, span of the top-level info or None)
    decode_info(raw_info) -> Any
    info_span(data) -> (start, end)
    encode(obj) -> bytes
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

import bencodepy

from app.engine.errors import BencodeError

MAX_DEPTH = 100
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_INT64_DIGITS = 19  # an integer with fewer digits always fits in 64 bits
# BEP 3: "i-0e is invalid. All encodings with a leading zero, such as i03e, are invalid".
_INTEGER = re.compile(rb"i(0|-?[1-9][0-9]{0,18})e")
_LENGTH = re.compile(rb"(0|[1-9][0-9]{0,15}):")
_DIGITS = frozenset(b"0123456789")
_INFO_KEY = b"info"
_INTEGER_START, _LIST_START, _DICT_START, _END = b"ilde"
_DUPLICATE_KEY = "duplicate dictionary key at byte {}"
_KEY_OUT_OF_ORDER = "dictionary key out of order at byte {}"


class _Relax(Enum):
    """Where dictionary keys may be out of order."""

    NOWHERE = auto()
    TOP_LEVEL_INFO = auto()  # inside the value of the top-level dict's b"info" key
    EVERYWHERE = auto()  # an info dictionary alone, or a tracker response


class _Frame:
    """An open list or dictionary on the validator's stack."""

    __slots__ = ("is_dict", "sorted_keys", "wants_key", "last_key", "seen", "key_is_info")

    def __init__(self, is_dict: bool, sorted_keys: bool) -> None:
        self.is_dict = is_dict
        self.sorted_keys = sorted_keys
        self.wants_key = is_dict  # dictionaries: the next value must be a key
        self.last_key: bytes | None = None
        # Sorted keys are unique if strictly ascending; unsorted ones need a set.
        self.seen: set[bytes] | None = None if sorted_keys else set()
        self.key_is_info = False


class _Validator:
    """Iterative (never recursive) strict scan of one value in ``data`` from ``pos``.

    The loop is written out for speed (a torrent with 20,000 files is ~200,000 tokens):
    byte strings and integers are checked inline, containers and errors go to helpers.
    The span of the top-level ``info`` value ends where the next top-level key starts or
    where the top-level dictionary closes, so values need no bookkeeping once read.
    """

    def __init__(self, data: bytes, pos: int, relax: _Relax) -> None:
        self.data = data
        self.pos = pos
        self.relax = relax
        self.stack: list[_Frame] = []
        self.info_start = -1
        self.info_span: tuple[int, int] | None = None

    def run(self) -> None:
        """Check one value; afterwards ``pos`` is just past it."""
        data, stack, size = self.data, self.stack, len(self.data)
        match_length, match_integer = _LENGTH.match, _INTEGER.match
        pos = self.pos
        frame: _Frame | None = None
        while True:
            if pos >= size:
                raise BencodeError(f"data ends early at byte {pos}")
            token = data[pos]
            if token in _DIGITS:
                match = match_length(data, pos)
                if match is None:
                    raise BencodeError(f"bad string length at byte {pos}")
                start = match.end()
                end = start + int(match.group(1))
                if end > size:
                    raise BencodeError(f"string at byte {pos} runs past the end of the data")
                if frame is not None and frame.wants_key:
                    self._accept_key(frame, data[start:end], pos, end)
                    pos = end
                    continue
                pos = end
            elif frame is not None and frame.wants_key and token != _END:
                raise BencodeError(f"dictionary key at byte {pos} is not a byte string")
            elif token == _INTEGER_START:
                match = match_integer(data, pos)
                if match is None:
                    raise BencodeError(f"bad integer at byte {pos}")
                pos = match.end()
                if len(match.group(1)) >= _INT64_DIGITS:
                    _check_int64(int(match.group(1)), match.start())
            elif token == _LIST_START or token == _DICT_START:
                frame = self._push(token == _DICT_START, pos)
                pos += 1
                continue
            elif token == _END:
                self._pop(pos)
                pos += 1
                frame = stack[-1] if stack else None
            else:
                raise BencodeError(f"unexpected byte {_show(token)} at byte {pos}")
            if frame is None:
                self.pos = pos
                return
            frame.wants_key = frame.is_dict

    def _push(self, is_dict: bool, pos: int) -> _Frame:
        if len(self.stack) >= MAX_DEPTH:
            raise BencodeError(f"nesting deeper than {MAX_DEPTH} levels at byte {pos}")
        frame = _Frame(is_dict, self._child_sorted_keys())
        self.stack.append(frame)
        return frame

    def _child_sorted_keys(self) -> bool:
        if not self.stack:
            return self.relax is not _Relax.EVERYWHERE
        parent = self.stack[-1]
        opens_info = len(self.stack) == 1 and parent.key_is_info
        if opens_info and self.relax is _Relax.TOP_LEVEL_INFO:
            return False
        return parent.sorted_keys

    def _pop(self, pos: int) -> None:
        if not self.stack:
            raise BencodeError(f"unexpected byte 'e' at byte {pos}")
        frame = self.stack.pop()
        if frame.is_dict and not frame.wants_key:
            raise BencodeError(f"dictionary key has no value at byte {pos}")
        if not self.stack:
            self._end_info(frame, pos)

    def _accept_key(self, frame: _Frame, key: bytes, pos: int, value_start: int) -> None:
        if frame.seen is not None:
            if key in frame.seen:
                raise BencodeError(_DUPLICATE_KEY.format(pos))
            frame.seen.add(key)
        elif frame.last_key is not None and key <= frame.last_key:
            fault = _DUPLICATE_KEY if key == frame.last_key else _KEY_OUT_OF_ORDER
            raise BencodeError(fault.format(pos))
        if len(self.stack) == 1:
            self._end_info(frame, pos)
            if key == _INFO_KEY:
                self.info_start = value_start
        frame.wants_key = False
        frame.last_key = key
        frame.key_is_info = key == _INFO_KEY

    def _end_info(self, top: _Frame, pos: int) -> None:
        """At ``pos`` the top-level dictionary has a new key or closes: ``info`` ended there."""
        if top.key_is_info:
            self.info_span = (self.info_start, pos)


def _check_int64(value: int, pos: int) -> None:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise BencodeError(f"integer out of 64-bit range at byte {pos}")


def _show(byte: int) -> str:
    return repr(chr(byte)) if 0x20 < byte < 0x7F else f"0x{byte:02x}"


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


def _validate_whole(data: bytes, relax: _Relax) -> _Validator:
    validator = _Validator(data, 0, relax)
    validator.run()
    if validator.pos != len(data):
        raise BencodeError(f"unexpected data at byte {validator.pos} after the end of the value")
    return validator


def _build(valid: bytes) -> Any:
    """The value of one validated bencoded value, built by bencodepy and normalised."""
    built = bencodepy.decode(valid)
    # bencodepy wraps a top-level value that is not a list or dict in a tuple.
    return _plain(built[0] if type(built) is tuple else built)


def _plain(value: Any) -> Any:
    """Replace bencodepy's OrderedDicts with dicts (depth is at most MAX_DEPTH)."""
    kind = type(value)
    if kind is OrderedDict:
        return {key: _plain(item) for key, item in value.items()}
    if kind is list:
        for index, item in enumerate(value):
            if type(item) is OrderedDict or type(item) is list:
                value[index] = _plain(item)
    return value


def decode(data: bytes | bytearray | memoryview, *, sorted_keys: bool = True) -> Any:
    """Decode one canonical bencoded value that fills ``data`` exactly.

    Returns dict (bytes keys), list, int or bytes; raises BencodeError naming the byte offset.
    ``sorted_keys=False`` accepts dictionary keys in any order (still unique) at every level.
    """
    data = _as_bytes(data)
    _validate_whole(data, _Relax.NOWHERE if sorted_keys else _Relax.EVERYWHERE)
    return _build(data)


def decode_prefix(
    data: bytes | bytearray | memoryview, start: int = 0, *, sorted_keys: bool = True
) -> tuple[Any, int]:
    """Decode the strict value starting at ``start``; return it and the offset where it ended.

    BEP 9: a ut_metadata "data" message is a bencoded dict followed by raw piece bytes.
    ``sorted_keys=False`` accepts dictionary keys in any order (still unique).
    """
    data = _as_bytes(data)
    if not 0 <= start <= len(data):
        raise ValueError(f"start {start} is outside the data")
    validator = _Validator(data, start, _Relax.NOWHERE if sorted_keys else _Relax.EVERYWHERE)
    validator.run()
    return _build(data[start : validator.pos]), validator.pos


def decode_torrent(data: bytes | bytearray | memoryview) -> tuple[Any, tuple[int, int] | None]:
    """Decode a whole .torrent file; also return the [start, end) span of the top-level ``info``.

    Keys inside ``info`` may be unsorted (the info-hash covers the bytes as written); the
    span is None when the value is not a dictionary with an ``info`` key.
    """
    data = _as_bytes(data)
    validator = _validate_whole(data, _Relax.TOP_LEVEL_INFO)
    return _build(data), validator.info_span


def decode_info(raw_info: bytes | bytearray | memoryview) -> Any:
    """Decode an info dictionary on its own (BEP 9 metadata), allowing unsorted keys."""
    raw_info = _as_bytes(raw_info)
    _validate_whole(raw_info, _Relax.EVERYWHERE)
    return _build(raw_info)


def info_span(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """The exact [start, end) byte span of the top-level ``info`` value of a .torrent file."""
    validator = _validate_whole(_as_bytes(data), _Relax.TOP_LEVEL_INFO)
    if validator.info_span is None:
        raise BencodeError("the data has no top-level 'info' entry")
    return validator.info_span


def encode(obj: Any) -> bytes:
    """Bencode ``obj`` with dictionary keys sorted (str keys and values are UTF-8).

    Raises TypeError for bool and any type other than int, bytes, bytearray, memoryview,
    str, list, tuple, dict; ValueError for an integer outside 64 bits or two keys equal
    once encoded.
    """
    encoded: bytes = bencodepy.encode(_prepared(obj))
    return encoded


def _prepared(obj: Any) -> Any:
    """``obj`` as only bytes, int, list and key-sorted dict: all bencodepy writes correctly."""
    prepare = _PREPARERS.get(type(obj))
    if prepare is None:
        raise TypeError(f"cannot bencode a value of type {type(obj).__name__}")
    return prepare(obj)


def _prepared_int(value: int) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"integer {value} does not fit in 64 bits")
    return value


def _prepared_list(items: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [_prepared(item) for item in items]


def _prepared_dict(mapping: dict[Any, Any]) -> dict[bytes, Any]:
    # BEP 3: "Keys must be strings and appear in sorted order (sorted as raw strings)";
    # bencodepy writes keys in insertion order, so insert them sorted.
    items = {_key_bytes(key): value for key, value in mapping.items()}
    if len(items) != len(mapping):
        raise ValueError("two dictionary keys are the same once encoded as bytes")
    return {key: _prepared(items[key]) for key in sorted(items)}


def _key_bytes(key: Any) -> bytes:
    if type(key) is str:
        return key.encode("utf-8")
    if type(key) in (bytes, bytearray, memoryview):
        return bytes(key)
    raise TypeError(f"dictionary keys must be bytes or str, not {type(key).__name__}")


_PREPARERS: dict[type, Callable[[Any], Any]] = {
    int: _prepared_int,
    bytes: lambda value: value,
    bytearray: bytes,
    memoryview: bytes,
    str: lambda value: value.encode("utf-8"),
    list: _prepared_list,
    tuple: _prepared_list,
    dict: _prepared_dict,
}
