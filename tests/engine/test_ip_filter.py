"""The block list parser and its sorted intervals, from small tables and against a brute-force set."""

from __future__ import annotations

import gzip
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.errors import EngineError
from app.engine.ip_filter import AddressRange, IpFilter, parse_ip_filter
from app.engine.ip_filter_file import load_ip_filter

EMULE = """\
# a comment
001.002.004.000 - 001.002.004.255 , 000 , China Internet Information Center
001.002.004.128 - 001.002.005.010 , 100 , overlaps the one above
001.002.005.011 - 001.002.005.020 , 050 , adjacent to the one above
010.000.000.000 - 010.255.255.255 , 200 , level above 127: allowed
2001:db8:: - 2001:db8::ffff , 0 , an IPv6 range
"""

P2P = """\
Some Org, Inc.:9.9.9.0-9.9.9.255
Other:9.9.10.0-9.9.10.10
"""


@pytest.mark.parametrize(("address", "blocked"), [
    ("1.2.3.255", False),
    ("1.2.4.0", True),
    ("1.2.4.200", True),
    ("1.2.5.10", True),
    ("1.2.5.20", True),
    ("1.2.5.21", False),
    ("10.1.2.3", False),
    ("2001:db8::1", True),
    ("2001:db8::1:0", False),
    ("::ffff:1.2.4.9", True),  # IPv4-mapped, as a dual-stack socket names an IPv4 peer
    ("not an address", False),
])
def test_an_emule_list_with_overlapping_and_adjacent_ranges(address, blocked):
    assert parse_ip_filter(EMULE).filter.blocks(address) is blocked


def test_overlapping_and_adjacent_ranges_are_merged_into_one():
    parsed = parse_ip_filter(EMULE)
    assert parsed.rules == 4  # the allowed range is not a rule
    assert parsed.filter.v4.starts == (int(ipaddress.ip_address("1.2.4.0")),)
    assert parsed.filter.v4.ends == (int(ipaddress.ip_address("1.2.5.20")),)
    assert len(parsed.filter) == 2  # one IPv4 range, one IPv6 range


def test_a_peerguardian_list_whose_names_hold_colons_and_commas():
    parsed = parse_ip_filter(P2P)
    assert parsed.rules == 2 and parsed.skipped == 0
    assert parsed.filter.blocks("9.9.9.7") and parsed.filter.blocks("9.9.10.10")
    assert not parsed.filter.blocks("9.9.10.11")


def test_malformed_lines_are_skipped_counted_and_the_first_is_named():
    parsed = parse_ip_filter("1.1.1.1 - 1.1.1.2 , 0 , ok\nthis is not a rule\n1.1.1.300 - 1.1.1.4 , 0 , x\n")
    assert (parsed.rules, parsed.skipped, parsed.first_bad) == (1, 2, (2, "this is not a rule"))
    assert parsed.filter.blocks("1.1.1.2")


def test_a_gzipped_file_reads_as_the_plain_one(tmp_path: Path):
    plain, packed = tmp_path / "list.p2p", tmp_path / "list.p2p.gz"
    plain.write_text(P2P + "garbage\n")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        loaded = load_ip_filter(path)
        assert loaded.filter.blocks("9.9.9.9") and loaded.skipped == 1
        assert "line 3: 'garbage'" in loaded.message


@pytest.mark.parametrize("make", [
    lambda d: d / "missing.dat",
    lambda d: d,
    lambda d: (d / "bad.gz").write_bytes(b"\x1f\x8bnot really gzip") and d / "bad.gz",
])
def test_a_file_that_cannot_be_read_is_a_plain_error(tmp_path: Path, make):
    with pytest.raises(EngineError, match="IP filter file"):
        load_ip_filter(make(tmp_path))


def test_banned_addresses_join_the_list():
    combined = parse_ip_filter(P2P).filter.with_addresses(["127.0.0.3", "::1", "nonsense"])
    assert combined.blocks("127.0.0.3") and combined.blocks("::1") and combined.blocks("9.9.9.1")
    assert not combined.blocks("127.0.0.2")


_SMALL = st.integers(min_value=0, max_value=300)  # a small space: overlaps and adjacency are common


@given(st.lists(st.tuples(_SMALL, _SMALL), max_size=12), st.lists(_SMALL, max_size=40))
def test_lookups_agree_with_a_brute_force_set(pairs, probes):
    ranges = [AddressRange(4, min(a, b), max(a, b)) for a, b in pairs]
    table = IpFilter.of(ranges)
    blocked = {n for r in ranges for n in range(r.first, r.last + 1)}
    for n in [*probes, *blocked]:
        assert table.v4.holds(n) == (n in blocked)
    ends = [*table.v4.ends]
    assert all(end + 1 < start for end, start in zip(ends, table.v4.starts[1:]))  # merged


@given(st.lists(st.tuples(_SMALL, _SMALL), max_size=8))
def test_a_written_list_blocks_what_its_ranges_cover(pairs):
    lines = [f"{ipaddress.IPv4Address(a)} - {ipaddress.IPv4Address(b)} , 0 , r{i}" for i, (a, b) in enumerate(pairs)]
    parsed = parse_ip_filter("\n".join(lines))
    blocked = {n for a, b in pairs for n in range(min(a, b), max(a, b) + 1)}
    assert parsed.skipped == 0
    assert all(parsed.filter.blocks(str(ipaddress.IPv4Address(n))) == (n in blocked) for n in range(302))


def test_zero_padded_octets_are_decimal_not_octal():
    parsed = parse_ip_filter("010.000.000.010 - 010.000.000.010 , 0 , padded\n")
    assert parsed.filter.blocks("10.0.0.10") and not parsed.filter.blocks("8.0.0.8")
