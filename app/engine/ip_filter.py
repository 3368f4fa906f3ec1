"""IP block lists: eMule `.dat` and PeerGuardian `.p2p` text in, a sorted-interval filter out.

Pure: text in, a frozen filter and a report of what was skipped out; reading the file (plain or
gzip) is app/engine/ip_filter_file.py. The two formats, one rule a line:

    eMule:        001.002.004.000 - 001.002.004.255 , 000 , Some organisation
    PeerGuardian: Some organisation:1.2.4.0-1.2.4.255

In eMule's format an access level above 127 lets the range through (eMule's own rule, which
libtorrent and qBittorrent follow), so such a line blocks nothing. IPv4 and IPv6 ranges are
kept apart; overlapping and adjacent ranges are merged, and a lookup is one bisect.

    result = parse_ip_filter(text)
    result.filter.blocks("1.2.4.7")    # True
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

BLOCKING_LEVEL = 127  # eMule: a level above this allows the range
_P2P_LINE = re.compile(r"^(?P<name>.*):(?P<start>[0-9.]+)\s*-\s*(?P<end>[0-9.]+)$")
_COMMENT_PREFIXES = ("#", "//")
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


class IpFilterFormatError(ValueError):
    """One line is neither an eMule nor a PeerGuardian rule."""


@dataclass(frozen=True, slots=True)
class AddressRange:
    """Inclusive, as integers of one IP version."""

    version: int  # 4 or 6
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class _Intervals:
    """Disjoint, non-adjacent inclusive ranges, sorted: `starts[i]..ends[i]`."""

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    def holds(self, value: int) -> bool:
        i = bisect.bisect_right(self.starts, value) - 1
        return i >= 0 and value <= self.ends[i]


def _merged(ranges: Iterable[tuple[int, int]]) -> _Intervals:
    starts: list[int] = []
    ends: list[int] = []
    for first, last in sorted(ranges):
        if ends and first <= ends[-1] + 1:  # overlapping or adjacent: one range
            ends[-1] = max(ends[-1], last)
        else:
            starts.append(first)
            ends.append(last)
    return _Intervals(tuple(starts), tuple(ends))


@dataclass(frozen=True, slots=True)
class IpFilter:
    """Blocked IPv4 and IPv6 ranges; an IPv4-mapped IPv6 address is looked up as IPv4."""

    v4: _Intervals = field(default_factory=_Intervals)
    v6: _Intervals = field(default_factory=_Intervals)

    @classmethod
    def of(cls, ranges: Iterable[AddressRange]) -> IpFilter:
        ranges = list(ranges)
        return cls(
            _merged((r.first, r.last) for r in ranges if r.version == 4),
            _merged((r.first, r.last) for r in ranges if r.version == 6),
        )

    def __len__(self) -> int:
        """How many merged ranges it holds."""
        return len(self.v4.starts) + len(self.v6.starts)

    def blocks(self, host: str) -> bool:
        """Is this address (text, as a socket gives it) blocked? A name that is not an address is not."""
        single = _single(host.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
        if single is None:
            return False
        table = self.v4 if single.version == 4 else self.v6
        return table.holds(single.first)

    def with_addresses(self, hosts: Iterable[str]) -> IpFilter:
        """This filter plus single addresses (the user's bans); a host that is not an address is left out."""
        extra = [r for r in (_single(host) for host in hosts) if r is not None]
        return IpFilter(
            _merged([*zip(self.v4.starts, self.v4.ends), *((r.first, r.last) for r in extra if r.version == 4)]),
            _merged([*zip(self.v6.starts, self.v6.ends), *((r.first, r.last) for r in extra if r.version == 6)]),
        )


@dataclass(frozen=True, slots=True)
class ParsedFilter:
    filter: IpFilter
    rules: int  # lines that blocked a range
    skipped: int  # malformed lines
    first_bad: tuple[int, str] | None  # (line number, its text) of the first malformed line


def parse_ip_filter(text: str) -> ParsedFilter:
    """Every rule of an eMule or PeerGuardian list (the two may even be mixed, line by line)."""
    ranges: list[AddressRange] = []
    skipped, first_bad = 0, None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(_COMMENT_PREFIXES):
            continue
        try:
            rule = parse_rule(line)
        except IpFilterFormatError:
            skipped += 1
            first_bad = first_bad or (number, line)
            continue
        if rule is not None:
            ranges.append(rule)
    return ParsedFilter(IpFilter.of(ranges), len(ranges), skipped, first_bad)


def parse_rule(line: str) -> AddressRange | None:
    """One rule line; None if it allows its range (eMule level above 127)."""
    p2p = _P2P_LINE.match(line)
    if p2p is not None:
        return _range(p2p["start"], p2p["end"])
    parts = [part.strip() for part in line.split(",")]
    if len(parts) < 2 or "-" not in parts[0]:
        raise IpFilterFormatError(line)
    start, _, end = parts[0].partition("-")
    if not parts[1].isdigit():
        raise IpFilterFormatError(line)
    rule = _range(start.strip(), end.strip())
    return rule if int(parts[1]) <= BLOCKING_LEVEL else None


def _range(start: str, end: str) -> AddressRange:
    (version, first), (other, last) = _address(start), _address(end)
    if version != other:
        raise IpFilterFormatError(f"{start} - {end}")
    low, high = sorted((first, last))  # some lists write a range backwards
    return AddressRange(version, low, high)


def _address(text: str) -> tuple[int, int]:
    """(IP version, the address as an integer), as block lists write it: eMule pads IPv4
    octets with zeros ("001.002.004.000"). Parsed by hand: lists run to a million lines."""
    if ":" in text:
        try:
            return 6, int(ipaddress.IPv6Address(text))
        except ValueError:
            raise IpFilterFormatError(text) from None
    match = _IPV4.fullmatch(text)
    if match is None:
        raise IpFilterFormatError(text)
    a, b, c, d = map(int, match.groups())  # decimal, leading zeros and all (not octal as inet_aton)
    if a > 255 or b > 255 or c > 255 or d > 255:
        raise IpFilterFormatError(text)
    return 4, (a << 24) | (b << 16) | (c << 8) | d


def _single(host: str) -> AddressRange | None:
    """One address as a socket or the user writes it, IPv4-mapped IPv6 as IPv4; None if not one."""
    try:
        version, value = _address(host)
    except IpFilterFormatError:
        return None
    if version == 6 and value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d (RFC 4291, 2.5.5.2)
        version, value = 4, value & 0xFFFF_FFFF
    return AddressRange(version, value, value)
