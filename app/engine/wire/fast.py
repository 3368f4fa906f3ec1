"""BEP 6 allowed fast set: the pieces a peer may download from us even while we choke it.

The set is canonical (both ends can compute it) and depends on the peer's IPv4 /24, the
info-hash and the piece count only, so a peer gains nothing by reconnecting or by using
several addresses of the same network.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Final

ALLOWED_FAST_SET_SIZE: Final = 10  # BEP 6: "We currently set k to 10"
# The set stays a small part of the torrent: offered only when the torrent has at least
# this many times more pieces than the set (so nobody gets most of a small torrent free).
MIN_PIECES_PER_FAST_PIECE: Final = 4


def _ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The peer's IPv4 address, also when a dual-stack socket shows it as ::ffff:a.b.c.d."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped
    return address


def allowed_fast_set(host: str, info_hash: bytes, num_pieces: int, k: int) -> tuple[int, ...]:
    """BEP 6 "Allowed Fast Set Generation": k piece indices for the peer at `host`, in order.

    Empty for IPv6 peers: BEP 6 "currently has no provisions for IPv6".
    """
    ip = _ipv4(host)
    if ip is None or num_pieces <= 0:
        return ()
    k = min(k, num_pieces)  # the BEP's loop would never end asking for more pieces than exist
    x = (int(ip) & 0xFFFFFF00).to_bytes(4, "big") + info_hash  # steps (1) and (2): the /24
    chosen: dict[int, None] = {}
    while len(chosen) < k:
        x = hashlib.sha1(x).digest()  # step (3)
        for j in range(0, 20, 4):  # steps (4) to (9): five big-endian words per hash
            if len(chosen) == k:
                break
            chosen[int.from_bytes(x[j : j + 4], "big") % num_pieces] = None
    return tuple(chosen)


def offered_fast_set(host: str, info_hash: bytes, num_pieces: int) -> tuple[int, ...]:
    """The set we offer a peer: BEP 6's k = 10, unless the torrent is too small for it."""
    if num_pieces < ALLOWED_FAST_SET_SIZE * MIN_PIECES_PER_FAST_PIECE:
        return ()
    return allowed_fast_set(host, info_hash, num_pieces, ALLOWED_FAST_SET_SIZE)
