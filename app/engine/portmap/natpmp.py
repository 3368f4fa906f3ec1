"""NAT-PMP messages (RFC 6886), sans-I/O: requests to bytes, a router's answer to a frozen event.

    natpmp.encode_map(Protocol.TCP, 51413, 51413, 7200)  -> 12 bytes for the gateway's port 5351
    natpmp.decode(datagram)  -> AddressAnswer | MapAnswer, or PortMapError for bad bytes

Every answer carries the router's "seconds since start of epoch" (RFC 6886 3.6): the caller
compares it between answers to notice a router that restarted and forgot its mappings.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum

from app.engine.portmap.errors import PortMapError

VERSION = 0  # RFC 6886 3.2: NAT-PMP is version 0 (PCP, RFC 6887, is version 2)
SERVER_PORT = 5351
CLIENT_PORT = 5350  # RFC 6886 3.2.1: restart announcements go to 224.0.0.1 at this port (PCP's too)
ANNOUNCE_GROUP = "224.0.0.1"
OP_ADDRESS = 0
RESPONSE_BIT = 128  # RFC 6886 3.2: the answer's opcode is the request's plus 128
UNSUPPORTED_VERSION = 1

_MAP_REQUEST = struct.Struct("!BBHHHI")  # version, opcode, reserved, internal, suggested external, lifetime
_HEADER = struct.Struct("!BBHI")  # version, opcode, result code, seconds since start of epoch
_ADDRESS_BODY = struct.Struct("!4s")
_MAP_BODY = struct.Struct("!HHI")  # internal port, mapped external port, lifetime


class Protocol(IntEnum):
    """RFC 6886 3.3: the opcode of a mapping request names its protocol."""

    UDP = 1
    TCP = 2


# RFC 6886 3.5: result codes, in words a user can read.
RESULTS: dict[int, str] = {
    0: "success",
    1: "the router does not speak this NAT-PMP version",
    2: "the router refused (port mapping is switched off on it)",
    3: "the router has no internet connection",
    4: "the router has no ports left",
    5: "the router does not know this request",
}


@dataclass(frozen=True, slots=True)
class AddressAnswer:
    result: int
    epoch: int
    external_address: str


@dataclass(frozen=True, slots=True)
class MapAnswer:
    result: int
    epoch: int
    protocol: Protocol
    internal_port: int
    external_port: int
    lifetime: int


def encode_address() -> bytes:
    """RFC 6886 3.2: the external address request is two bytes."""
    return bytes((VERSION, OP_ADDRESS))


def encode_map(protocol: Protocol, internal_port: int, external_port: int, lifetime: int) -> bytes:
    """RFC 6886 3.3; lifetime 0 with external port 0 deletes the mapping (3.4)."""
    return _MAP_REQUEST.pack(VERSION, protocol, 0, internal_port, external_port, lifetime)


def decode(data: bytes) -> AddressAnswer | MapAnswer:
    if len(data) < _HEADER.size:
        raise PortMapError(f"NAT-PMP answer of {len(data)} bytes is too short")
    version, opcode, result, epoch = _HEADER.unpack_from(data)
    if version != VERSION:
        raise PortMapError(f"NAT-PMP answer has version {version}")
    decoder = _DECODERS.get(opcode)
    if decoder is None:
        raise PortMapError(f"NAT-PMP answer has unknown opcode {opcode}")
    return decoder(data, opcode, result, epoch)


def decode_announce(data: bytes) -> AddressAnswer:
    """RFC 6886 3.2.1: a router that restarted or changed its address multicasts a successful
    external address answer; anything else on the announcement port is not one."""
    answer = decode(data)
    if not isinstance(answer, AddressAnswer) or answer.result != 0:
        raise PortMapError("not a NAT-PMP announcement (an address answer with success)")
    return answer


def _body(data: bytes, shape: struct.Struct, result: int) -> tuple[int | bytes, ...] | None:
    """RFC 6886 3.5: an error answer may stop after the header; a success may not."""
    if len(data) < _HEADER.size + shape.size:
        if result != 0:
            return None
        raise PortMapError(f"NAT-PMP answer of {len(data)} bytes is too short")
    return shape.unpack_from(data, _HEADER.size)


def _decode_address(data: bytes, opcode: int, result: int, epoch: int) -> AddressAnswer:
    body = _body(data, _ADDRESS_BODY, result)
    address = str(ipaddress.IPv4Address(body[0])) if body else ""
    return AddressAnswer(result, epoch, address)


def _decode_map(data: bytes, opcode: int, result: int, epoch: int) -> MapAnswer:
    internal, external, lifetime = _body(data, _MAP_BODY, result) or (0, 0, 0)
    protocol = Protocol(opcode - RESPONSE_BIT)
    return MapAnswer(result, epoch, protocol, int(internal), int(external), int(lifetime))


_DECODERS = {
    RESPONSE_BIT + OP_ADDRESS: _decode_address,
    RESPONSE_BIT + Protocol.UDP: _decode_map,
    RESPONSE_BIT + Protocol.TCP: _decode_map,
}
