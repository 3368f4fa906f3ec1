"""Fuzzing app/engine/metainfo.py: only MetainfoError comes out, and every accepted path is safe."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import bencode
from app.engine.errors import MetainfoError
from app.engine.metainfo import parse_metainfo
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input, loose_dicts
from fuzz.targets import check_metainfo, metainfo_target

# What path components are made of when they try to escape or to break a file system.
_NASTY = st.sampled_from(["..", ".", "/", "\\", ":", "C:", "\0", "\x1f", " ", "CON", "nul", "a", "é", "*", "~"])
_COMPONENTS = st.one_of(
    st.lists(_NASTY, max_size=6).map("".join),
    st.text(max_size=300),
    st.just("x" * 300 + ".txt"),
).map(lambda text: text.encode("utf-8", "surrogatepass"))


@settings(max_examples=500, deadline=None)
@given(fuzz_input(SEEDS["metainfo"]))
def test_parsing_any_bytes_raises_only_metainfo_errors(data: bytes) -> None:
    metainfo_target(data)


@st.composite
def _torrents(draw: st.DrawFn) -> bytes:
    """Torrents with consistent sizes and hashes, so path checks are what decides."""
    paths = draw(st.lists(st.lists(_COMPONENTS, min_size=1, max_size=4), min_size=1, max_size=5))
    lengths = draw(st.lists(st.integers(0, 40_000), min_size=len(paths), max_size=len(paths)))
    piece_length = 16384
    pieces = -(-sum(lengths) // piece_length)
    info: dict[bytes, Any] = {
        b"name": draw(_COMPONENTS),
        b"piece length": piece_length,
        b"pieces": hashlib.sha1(b"x").digest() * pieces,
        b"files": [{b"length": n, b"path": p} for n, p in zip(lengths, paths, strict=True)],
    }
    return bencode.encode({b"announce": b"http://127.0.0.1/announce", b"info": info})


@settings(max_examples=400, deadline=None)
@given(_torrents())
def test_escaping_names_are_refused_or_made_safe(torrent: bytes) -> None:
    try:
        metainfo = parse_metainfo(torrent)
    except MetainfoError as error:
        assert str(error)
        return
    check_metainfo(metainfo)
    assert parse_metainfo(torrent) == metainfo  # the same answer every time


_INFO_FIELDS = {
    b"name": st.binary(max_size=20),
    b"piece length": st.integers(-1, 2**40),
    b"pieces": st.binary(max_size=100),
    b"length": st.integers(-1, 2**52),
    b"files": st.lists(loose_dicts({b"length": st.integers(-1, 99), b"path": st.lists(st.binary(max_size=5))})),
    b"private": st.integers(0, 1),
}
_TOP_FIELDS = {
    b"announce": st.binary(max_size=30),
    b"announce-list": st.lists(st.lists(st.binary(max_size=30))),
    b"url-list": st.lists(st.binary(max_size=30)),
    b"creation date": st.integers(-(2**63), 2**63 - 1),
    b"comment": st.binary(max_size=30),
}


@settings(max_examples=300, deadline=None)
@given(loose_dicts(_INFO_FIELDS), loose_dicts(_TOP_FIELDS))
def test_fields_of_any_type_are_refused_or_ignored(info: dict[bytes, Any], top: dict[bytes, Any]) -> None:
    metainfo_target(bencode.encode({**top, b"info": info}))
