"""A peer's address as people write it: "192.0.2.7:6881", "[2001:db8::7]:6881", "host:6881".

IPv6 needs its brackets (RFC 3986 host syntax): in "::1:6881" the port cannot be told from
the address. Bad text raises EngineError with a sentence the user can read.
"""

from __future__ import annotations

import ipaddress

from app.engine.errors import EngineError

EXAMPLE = "192.0.2.7:6881 or [2001:db8::7]:6881"


def parse_peer_address(text: str) -> tuple[str, int]:
    """(host, port) from `text`; the host is an IP address or a name."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise EngineError(f"'{text}' is not a peer address like {EXAMPLE}.")
    if host.startswith("[") and host.endswith("]"):
        return _ipv6(host[1:-1], text), int(port)
    if ":" in host:
        raise EngineError(f"'{text}': an IPv6 address goes in brackets, like [2001:db8::7]:6881.")
    return host, int(port)


def _ipv6(host: str, text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError:
        raise EngineError(f"'{text}' does not hold a valid IPv6 address in its brackets.") from None
