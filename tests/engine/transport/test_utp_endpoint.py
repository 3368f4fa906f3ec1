"""The order in which a peer is dialed over TCP and uTP, without sockets: stand-ins for the
TCP dialer and the uTP endpoints record what was tried, in which order, and answer as told."""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.engine.sockets import BlockedAddressError
from app.engine.transport.utp_endpoint import DIAL_ORDERS, TRANSPORTS, dial, dial_order

V4 = ("10.1.2.3", 6881)
V6 = ("2001:db8::7", 6881)
REFUSED = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


@dataclass
class Log:
    tried: list[str] = field(default_factory=list)


@dataclass
class FakeTcp:
    """The part of Sockets that dial() uses: the gate and TCP connect."""

    log: Log
    error: BaseException | None = None
    blocked: frozenset[str] = frozenset()

    def refuse_blocked(self, host: str) -> None:
        if host in self.blocked:
            raise BlockedAddressError(errno.ECONNREFUSED, "blocked by the IP filter")

    async def connect(self, factory: Callable[[], Any], address: tuple[str, int]) -> tuple[str, Any]:
        self.log.tried.append("tcp")
        if self.error is not None:
            raise self.error
        return "tcp transport", factory()


@dataclass
class FakeUtp:
    """A UtpEndpoint of one family."""

    log: Log
    name: str = "utp"
    error: BaseException | None = None

    async def connect(self, factory: Callable[[], Any], address: tuple[str, int]) -> tuple[str, Any]:
        self.log.tried.append(self.name)
        if self.error is not None:
            raise self.error
        return f"{self.name} transport", factory()


def run(order: tuple[str, ...], tcp: FakeTcp, endpoints: dict[int, FakeUtp], address: tuple[str, int] = V4) -> str:
    transport, protocol = asyncio.run(dial(order, endpoints, tcp, object, address, 10.0))  # type: ignore[arg-type]
    return str(transport)


@pytest.mark.parametrize(
    ("setting", "speaks_utp", "expected"),
    [
        ("both", False, ("tcp", "utp")),  # the default: TCP first (our uTP costs more CPU)
        ("utp-first", False, ("utp", "tcp")),
        ("tcp", False, ("tcp",)),
        ("utp", False, ("utp",)),
        ("both", True, ("utp", "tcp")),  # BEP 11 0x04: uTP first for that peer
        ("utp-first", True, ("utp", "tcp")),
        ("tcp", True, ("tcp",)),  # the user said TCP only: PEX does not overrule that
        ("utp", True, ("utp",)),
    ],
)
def test_the_dial_order_follows_the_setting_and_the_pex_flag(setting: str, speaks_utp: bool, expected: tuple[str, ...]) -> None:
    assert dial_order(setting, speaks_utp=speaks_utp) == expected


def test_every_setting_has_an_order_and_both_is_the_first() -> None:
    assert TRANSPORTS == tuple(DIAL_ORDERS) and TRANSPORTS[0] == "both"
    assert all(set(order) <= {"tcp", "utp"} and order for order in DIAL_ORDERS.values())


def test_tcp_first_stops_at_tcp_when_it_answers() -> None:
    log = Log()
    assert run(("tcp", "utp"), FakeTcp(log), {socket.AF_INET: FakeUtp(log)}) == "tcp transport"
    assert log.tried == ["tcp"]


def test_utp_first_stops_at_utp_when_it_answers() -> None:
    log = Log()
    assert run(("utp", "tcp"), FakeTcp(log), {socket.AF_INET: FakeUtp(log)}) == "utp transport"
    assert log.tried == ["utp"]


@pytest.mark.parametrize("error", [REFUSED, TimeoutError()])
def test_utp_first_falls_back_to_tcp(error: BaseException) -> None:
    log = Log()
    assert run(("utp", "tcp"), FakeTcp(log), {socket.AF_INET: FakeUtp(log, error=error)}) == "tcp transport"
    assert log.tried == ["utp", "tcp"]


def test_tcp_first_falls_back_to_utp() -> None:
    log = Log()
    assert run(("tcp", "utp"), FakeTcp(log, error=REFUSED), {socket.AF_INET: FakeUtp(log)}) == "utp transport"
    assert log.tried == ["tcp", "utp"]


def test_when_both_fail_the_last_error_is_raised() -> None:
    log = Log()
    utp_error = TimeoutError()
    with pytest.raises(TimeoutError) as caught:
        run(("tcp", "utp"), FakeTcp(log, error=REFUSED), {socket.AF_INET: FakeUtp(log, error=utp_error)})
    assert caught.value is utp_error and log.tried == ["tcp", "utp"]


@pytest.mark.parametrize("order", [("tcp", "utp"), ("utp", "tcp")])
def test_a_blocked_peer_is_dialed_over_neither(order: tuple[str, ...]) -> None:
    log = Log()
    with pytest.raises(BlockedAddressError):
        run(order, FakeTcp(log, blocked=frozenset({V4[0]})), {socket.AF_INET: FakeUtp(log)})
    assert log.tried == []


def test_each_family_is_dialed_from_its_own_endpoint() -> None:
    log = Log()
    endpoints = {socket.AF_INET: FakeUtp(log, "utp4"), socket.AF_INET6: FakeUtp(log, "utp6")}
    assert run(("utp",), FakeTcp(log), endpoints, V6) == "utp6 transport"
    assert run(("utp",), FakeTcp(log), endpoints, V4) == "utp4 transport"
    assert log.tried == ["utp6", "utp4"]


@pytest.mark.parametrize("order", [("tcp", "utp"), ("utp", "tcp")])
def test_without_utp_for_the_family_the_tcp_error_is_the_one_told(order: tuple[str, ...]) -> None:
    """An IPv6 peer and only an IPv4 uTP socket (IPv6 unavailable): uTP is skipped, not tried."""
    log = Log()
    with pytest.raises(ConnectionRefusedError) as caught:
        run(order, FakeTcp(log, error=REFUSED), {socket.AF_INET: FakeUtp(log)}, V6)
    assert caught.value is REFUSED and log.tried == ["tcp"]


def test_utp_only_without_a_socket_for_the_family_says_so() -> None:
    log = Log()
    with pytest.raises(OSError, match="uTP is not available to 2001:db8::7"):
        run(("utp",), FakeTcp(log), {socket.AF_INET: FakeUtp(log)}, V6)
    assert log.tried == []
