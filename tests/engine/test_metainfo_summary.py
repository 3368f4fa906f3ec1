"""The summary kept beside a stored .torrent (issue 19): what it says equals what the full
parse says, and anything but a summary this version wrote reads as none."""

from pathlib import Path

import pytest

from app.engine.metainfo import load_metainfo, parse_metainfo
from app.engine.metainfo_summary import read_summary, summarize, summary_text
from tests.engine.test_metainfo import multi_info, torrent

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["hybrid.torrent", "v1_multi.torrent"])
def test_a_summary_reads_back_as_the_metainfo_says(name: str) -> None:
    meta = load_metainfo(FIXTURES / name)
    summary = read_summary(summary_text(meta))
    assert summary == summarize(meta)
    assert summary is not None and summary.num_pieces == meta.num_pieces
    assert summary.info_hash_v2 == meta.info_hash_v2 and summary.file_count == len(meta.files)


def test_pad_files_and_trackers_are_summed_up() -> None:
    info = multi_info([([b"a"], 10), ([b"b"], 20_000)])
    info[b"files"].insert(1, {b"attr": b"p", b"length": 16_374, b"path": [b".pad", b"16374"]})  # BEP 47
    info[b"pieces"] = bytes(20 * 3)
    meta = parse_metainfo(torrent(info, **{"announce-list": [[b"http://127.0.0.1:1/a"], [b"udp://127.0.0.1:2"]]}))
    summary = summarize(meta)
    assert summary.padding_length == 16_374 and summary.file_count == 3
    assert summary.trackers == (("http://127.0.0.1:1/a",), ("udp://127.0.0.1:2",))
    assert read_summary(summary_text(meta)) == summary


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"a": 1}', '[2,"x",1,1,1,0,1,false,null,[]]', '[1,"x",100,16,9,0,1,false,null,[]]',
     '[1,"x",100,0,1,0,1,false,null,[]]', '[1,"x",1,1,1,0,1,false,"zz",[]]'],
    ids=["empty", "garbage", "short", "object", "newer", "wrong count", "zero piece", "bad hash"],
)
def test_anything_else_reads_as_no_summary(text: str) -> None:
    assert read_summary(text) is None
