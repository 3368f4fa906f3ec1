"""Compact peer lists: 4-byte IPv4 (BEP 23) or 16-byte IPv6 (BEP 7) address, then a 2-byte port."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

Peer = tuple[str, int]

ADDRESS_LENGTH: dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 16}


def decode_peers(data: bytes, family: int) -> list[Peer]:
    """Peers in `data`; port 0 and a trailing partial entry are dropped, as libtorrent does."""
    size = ADDRESS_LENGTH[family] + 2
    view = memoryview(data)
    peers = []
    for start in range(0, len(data) - size + 1, size):
        entry = view[start : start + size]
        port = int.from_bytes(entry[-2:], "big")
        if port:
            peers.append((socket.inet_ntop(family, entry[:-2]), port))
    return peers


def encode_peers(peers: Iterable[Peer], family: int) -> bytes:
    """The compact string for the peers of `family`; peers of the other family are left out."""
    return b"".join(
        socket.inet_pton(family, host) + port.to_bytes(2, "big")
        for host, port in peers
        if address_family(host) == family
    )


def address_family(host: str) -> int | None:
    """AF_INET or AF_INET6 for an IP literal, None for anything else (a host name, garbage)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return socket.AF_INET if address.version == 4 else socket.AF_INET6


def is_valid_peer(host: str, port: int) -> bool:
    return address_family(host) is not None and 0 < port < 65536
