"""The RPC server's security decisions, pure: which Host names to answer, who may log in,
and how long someone who keeps failing must wait (`now` comes in; no clocks, no sockets).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

LOCAL_NAMES: Final = frozenset({"localhost", "localhost."})
FIRST_DELAY: Final = 1.0  # seconds a failed login costs; doubled for each further failure
MAX_DELAY: Final = 60.0
FORGET_AFTER: Final = 3600.0  # a client's failures are forgotten after an hour without one
MAX_TRACKED: Final = 10_000  # clients whose failures are remembered (the oldest go first)


def is_loopback(address: str) -> bool:
    """Only this machine can reach `address` (127.0.0.0/8, ::1, "localhost")."""
    if address.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The Host header without its port: "example.org:9091" -> "example.org", "[::1]:9091" -> "::1"."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


class HostAllowList:
    """RPC spec 2.3.2 (DNS rebinding): answer only requests made to a name we were meant to be
    reached by. IP addresses are always accepted (a rebinding attack needs a name), as are the
    localhost names, the address we listen on and the names the user added."""

    def __init__(self, bind_address: str, extra_names: Iterable[str] = ()) -> None:
        self._names = LOCAL_NAMES | {bind_address.lower()} | {name.lower().rstrip(".") for name in extra_names}

    def allows(self, header: str | None) -> bool:
        if not header:
            return False  # HTTP/1.1 requires Host; every client we know sends it
        name = host_name(header)
        if _is_ip(name):
            return True
        return name in self._names or name.rstrip(".") in self._names


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    user: str
    password: str


def basic_credentials(header: str | None) -> BasicCredentials | None:
    """RPC spec 2.3.3: `Authorization: Basic base64(user:password)`; None if absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = text.partition(":")
    return BasicCredentials(user, password) if sep else None


class LoginThrottle:
    """Failed logins per client address: after a failure the client waits, twice as long after
    each further one, before its credentials are even looked at. Others are not slowed."""

    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (count, when the last one was)

    def wait(self, address: str, now: float) -> float:
        """Seconds before `address` may try again (0: now)."""
        count, last = self._failures.get(address, (0, 0.0))
        if not count:
            return 0.0
        if now - last > FORGET_AFTER:
            del self._failures[address]
            return 0.0
        return max(0.0, last + delay_after(count) - now)

    def failed(self, address: str, now: float) -> float:
        """Record a failure; returns the delay it earns."""
        count = self._failures.pop(address, (0, 0.0))[0] + 1
        self._failures[address] = (count, now)
        if len(self._failures) > MAX_TRACKED:
            del self._failures[next(iter(self._failures))]
        return delay_after(count)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


def delay_after(failures: int) -> float:
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (min(failures, 16) - 1))
