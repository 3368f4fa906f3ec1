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
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        table = self.v4 if address.version == 4 else self.v6
        return table.holds(int(address))

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
    first, last = _address(start), _address(end)
    if first.version != last.version:
        raise IpFilterFormatError(f"{start} - {end}")
    low, high = sorted((int(first), int(last)))  # some lists write a range backwards
    return AddressRange(first.version, low, high)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as block lists write it: eMule pads IPv4 octets with zeros ("001.002.004.000")."""
    try:
        if ":" in text:
            return ipaddress.IPv6Address(text)
        octets = text.split(".")
        if len(octets) != 4 or not all(o.isdigit() and len(o) <= 3 for o in octets):
            raise IpFilterFormatError(text)
        return ipaddress.IPv4Address(".".join(str(int(o)) for o in octets))
    except ValueError as exc:
        raise IpFilterFormatError(text) from exc


def _single(host: str) -> AddressRange | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return AddressRange(address.version, int(address), int(address))
