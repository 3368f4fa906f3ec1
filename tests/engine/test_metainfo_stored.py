"""parse_stored_metainfo: the store's own .torrent bytes, read at start-up without the strict
bencode pass (issue 19), give what the strict parse gives; anything else falls back to it."""

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from app.engine import metainfo
from app.engine.errors import MetainfoError
from app.engine.metainfo import load_metainfo, parse_metainfo, parse_stored_metainfo, to_torrent_bytes
from tests.engine.test_metainfo import multi_info, single_info, torrent

FIXTURES = Path(__file__).parent / "fixtures"


def _stored(data: bytes) -> bytes:
    meta = parse_metainfo(data)
    # What the store keeps: fields around the info dictionary, as added by the user and merges.
    full = replace(
        meta, trackers=(("http://127.0.0.1:1/a",), ("udp://127.0.0.1:2",)),
        url_list=("http://127.0.0.1:3/seed",), comment="4:info inside a comment", created_by="me",
        creation_date=1_700_000_000,
    )
    return to_torrent_bytes(full)


def _without_the_strict_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes) -> None:
        raise AssertionError("the strict bencode pass ran on the store's own bytes")

    monkeypatch.setattr(metainfo, "decode_torrent", refuse)


@pytest.mark.parametrize(
    "data",
    [torrent(single_info()), torrent(multi_info([([b"a"], 10), ([b"b", b"c"], 20_000)]))],
    ids=["single", "multi"],
)
def test_the_stored_bytes_parse_as_the_strict_parse_does(data: bytes, monkeypatch) -> None:
    stored = _stored(data)
    strict = parse_metainfo(stored)
    _without_the_strict_pass(monkeypatch)
    assert parse_stored_metainfo(stored, strict.info_hash) == strict


def test_a_hybrid_known_by_its_v2_hash_parses_too(monkeypatch) -> None:
    stored = to_torrent_bytes(load_metainfo(FIXTURES / "hybrid.torrent"))
    strict = parse_metainfo(stored)
    v2_id = hashlib.sha256(strict.raw_info).digest()[:20]
    _without_the_strict_pass(monkeypatch)
    assert parse_stored_metainfo(stored, v2_id) == strict


def test_unsorted_info_keys_keep_their_exact_bytes() -> None:
    raw_info = b"d4:name4:test12:piece lengthi16384e6:pieces20:" + bytes(20) + b"6:lengthi5ee"
    stored = b"d4:info" + raw_info + b"e"
    strict = parse_metainfo(stored)
    assert parse_stored_metainfo(stored, strict.info_hash) == strict


def test_bytes_that_do_not_hash_to_the_id_get_the_strict_parse() -> None:
    stored = _stored(torrent(single_info()))
    assert parse_stored_metainfo(stored, bytes(20)) == parse_metainfo(stored)


@pytest.mark.parametrize(
    "damaged",
    [b"d4:infod4:name", b"garbage", b"d4:info" + torrent(single_info())[7:] + b"trailing"],
    ids=["cut", "garbage", "trailing"],
)
def test_damaged_bytes_are_refused_in_plain_words(damaged: bytes) -> None:
    with pytest.raises(MetainfoError):
        parse_stored_metainfo(damaged, bytes(20))


def test_an_unsafe_path_is_still_refused() -> None:
    data = torrent(multi_info([([b"..", b"escape"], 10)]))
    raw_info = data[len(b"d4:info") : -1]
    with pytest.raises(MetainfoError):
        parse_stored_metainfo(data, hashlib.sha1(raw_info).digest())
