"""PCP MAP messages (RFC 6887), sans-I/O: requests to bytes, a router's answer to a frozen event.

    pcp.encode_map(nonce, Protocol.TCP, 51413, 51413, 7200, client_ip="10.0.0.5")
    pcp.decode(datagram)  -> MapAnswer, or PortMapError for bad bytes
    pcp.decode_announce(datagram)  -> the epoch of a restarted server's ANNOUNCE, or PortMapError

A router that speaks only NAT-PMP answers a PCP request with a NAT-PMP "unsupported
version" (RFC 6887 9): `decode` reports that as a MapAnswer with result UNSUPP_VERSION, so
that the caller falls back to NAT-PMP.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

from app.engine.portmap import natpmp
from app.engine.portmap.errors import PortMapError

VERSION = 2
OP_ANNOUNCE = 0
OP_MAP = 1
RESPONSE_BIT = 0x80  # RFC 6887 7.1: the R bit
NONCE_SIZE = 12
MAX_SIZE = 1100  # RFC 6887 7: no PCP message is longer
UNSUPP_VERSION = 1

# RFC 6887 7.1 and 11.1: the common header and the MAP opcode's body
_REQUEST_HEADER = struct.Struct("!BBHI16s")  # version, R|opcode, reserved, lifetime, client IP
_RESPONSE_HEADER = struct.Struct("!BBBBII12x")  # version, R|opcode, reserved, result, lifetime, epoch
_MAP = struct.Struct("!12sB3xHH16s")  # nonce, protocol, internal port, external port, external IP


class Protocol(IntEnum):
    """RFC 6887 11.1: IANA protocol numbers."""

    TCP = 6
    UDP = 17


# RFC 6887 7.4: result codes, in words a user can read.
RESULTS: dict[int, str] = {
    0: "success",
    1: "the router does not speak this PCP version",
    2: "the router refused (port mapping is switched off on it)",
    3: "the router found the request malformed",
    4: "the router does not know this request",
    5: "the router does not know an option of the request",
    6: "the router found an option malformed",
    7: "the router has no internet connection",
    8: "the router has no ports left",
    9: "the router cannot map this protocol",
    10: "the router's limit of mappings for this computer is reached",
    11: "the router cannot give the external port asked for",
    12: "the router sees this computer at another address",
    13: "the router refused: too many remote peers",
}


@dataclass(frozen=True, slots=True)
class MapAnswer:
    result: int
    lifetime: int
    epoch: int
    nonce: bytes
    protocol: int
    internal_port: int
    external_port: int
    external_address: str


def encode_map(
    nonce: bytes, protocol: Protocol, internal_port: int, external_port: int, lifetime: int, *, client_ip: str
) -> bytes:
    """RFC 6887 11.1; lifetime 0 deletes the mapping (15). The suggested external IP is left
    all-zero ("any"); the client IP must be the packet's source address (8.1)."""
    header = _REQUEST_HEADER.pack(VERSION, OP_MAP, 0, lifetime, _as_ipv6(client_ip))
    return header + _MAP.pack(nonce, protocol, internal_port, external_port, bytes(16))


def decode(data: bytes) -> MapAnswer:
    if len(data) > MAX_SIZE:
        raise PortMapError(f"PCP answer of {len(data)} bytes is longer than {MAX_SIZE}")
    if data[:1] == bytes((natpmp.VERSION,)):
        return _from_natpmp(data)
    if len(data) < _RESPONSE_HEADER.size:
        raise PortMapError(f"PCP answer of {len(data)} bytes is too short")
    version, opcode, _, result, lifetime, epoch = _RESPONSE_HEADER.unpack_from(data)
    if version != VERSION and result != UNSUPP_VERSION:
        raise PortMapError(f"PCP answer has version {version}")
    if opcode != RESPONSE_BIT | OP_MAP:
        raise PortMapError(f"PCP answer has opcode {opcode:#x}, not a MAP answer")
    if len(data) < _RESPONSE_HEADER.size + _MAP.size:
        if result == 0:
            raise PortMapError(f"PCP answer of {len(data)} bytes is too short for a mapping")
        return MapAnswer(result, lifetime, epoch, b"", 0, 0, 0, "")
    nonce, protocol, internal, external, address = _MAP.unpack_from(data, _RESPONSE_HEADER.size)
    return MapAnswer(result, lifetime, epoch, nonce, protocol, internal, external, _from_ipv6(address))


def decode_announce(data: bytes) -> int:
    """RFC 6887 14.1.1: an unsolicited ANNOUNCE response (a restarted server's); its epoch."""
    if not _RESPONSE_HEADER.size <= len(data) <= MAX_SIZE:
        raise PortMapError(f"PCP announcement of {len(data)} bytes")
    version, opcode, _, result, _, epoch = _RESPONSE_HEADER.unpack_from(data)
    if (version, opcode, result) != (VERSION, RESPONSE_BIT | OP_ANNOUNCE, 0):
        raise PortMapError("not a PCP announcement (version, opcode or result)")
    return int(epoch)


def _from_natpmp(data: bytes) -> MapAnswer:
    """RFC 6887 9: a NAT-PMP router answers our version 2 with its version 0 and an error."""
    answer = natpmp.decode(data)
    if answer.result != natpmp.UNSUPPORTED_VERSION:
        raise PortMapError("NAT-PMP answer to a PCP request that is not 'unsupported version'")
    return MapAnswer(UNSUPP_VERSION, 0, answer.epoch, b"", 0, 0, 0, "")


def _as_ipv6(address: str) -> bytes:
    """RFC 6887 5: IPv4 addresses travel as IPv4-mapped IPv6 addresses."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        ip = ipaddress.IPv6Address(f"::ffff:{ip}")
    return ip.packed


def _from_ipv6(packed: bytes) -> str:
    ip = ipaddress.IPv6Address(packed)
    return str(ip.ipv4_mapped or ip)
