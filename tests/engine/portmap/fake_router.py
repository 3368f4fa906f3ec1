"""A sans-I/O router for the mapper's tests: it reads PCP and NAT-PMP requests (struct, not our
codec, so that a codec bug cannot hide itself) and answers as RFC 6886 / RFC 6887 say."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EXTERNAL_IP = "203.0.113.7"


@dataclass
class FakeRouter:
    speaks_pcp: bool = True
    started_at: float = 0.0  # its epoch counts from here
    taken: set[tuple[int, int]] = field(default_factory=set)  # (protocol number, port) someone else holds
    result: int = 0  # answer every mapping with this result code
    lifetime_cap: int = 3600
    mappings: dict[tuple[int, int], int] = field(default_factory=dict)  # (protocol, internal) -> external
    requests: list[bytes] = field(default_factory=list)

    def restart(self, now: float) -> None:
        self.started_at, self.mappings = now, {}

    def announce(self, now: float) -> bytes:
        """What it multicasts to 224.0.0.1:5350 after a restart: PCP's ANNOUNCE (RFC 6887 14.1.1)
        or NAT-PMP's external address answer (RFC 6886 3.2.1)."""
        epoch = int(now - self.started_at)
        if self.speaks_pcp:
            return struct.pack("!BBBBII12x", 2, 0x80, 0, 0, 0, epoch)
        return struct.pack("!BBHI4B", 0, 128, 0, epoch, 203, 0, 113, 7)

    def answer(self, request: bytes, now: float) -> bytes:
        self.requests.append(request)
        epoch = int(now - self.started_at)
        if request[0] == 2 and self.speaks_pcp:
            return self._pcp(request, epoch)
        if request[0] == 2:  # RFC 6887 9: a NAT-PMP router's "unsupported version"
            return struct.pack("!BBHI", 0, 128 + request[1], 1, epoch)
        if request[1] == 0:
            return struct.pack("!BBHI4B", 0, 128, 0, epoch, 203, 0, 113, 7)
        return self._natpmp(request, epoch)

    def _grant(self, protocol: int, internal: int, suggested: int, lifetime: int) -> tuple[int, int]:
        if lifetime == 0:
            self.mappings.pop((protocol, internal), None)
            return 0, 0
        external = self.mappings.get((protocol, internal), suggested)
        while (protocol, external) in self.taken:
            external += 1  # the suggested port is someone else's: give the next free one
        self.mappings[(protocol, internal)] = external
        return external, min(lifetime, self.lifetime_cap)

    def _pcp(self, request: bytes, epoch: int) -> bytes:
        _, _, _, lifetime, _ = struct.unpack_from("!BBHI16s", request)
        nonce, protocol, internal, suggested, _ = struct.unpack_from("!12sB3xHH16s", request, 24)
        if self.result:
            external, granted = 0, 30
        else:
            external, granted = self._grant(protocol, internal, suggested, lifetime)
        header = struct.pack("!BBBBII12x", 2, 0x81, 0, self.result, granted, epoch)
        address = bytes(10) + b"\xff\xff" + bytes((203, 0, 113, 7))
        return header + struct.pack("!12sB3xHH16s", nonce, protocol, internal, external, address)

    def _natpmp(self, request: bytes, epoch: int) -> bytes:
        _, opcode, _, internal, suggested, lifetime = struct.unpack("!BBHHHI", request)
        protocol = {1: 17, 2: 6}[opcode]
        if self.result:
            return struct.pack("!BBHI", 0, 128 + opcode, self.result, epoch)
        external, granted = self._grant(protocol, internal, suggested or internal, lifetime)
        return struct.pack("!BBHIHHI", 0, 128 + opcode, 0, epoch, internal, external, granted)
