"""app/engine/portmap/service.py: one status from UPnP and NAT-PMP/PCP side by side."""

from app.engine.portmap.service import PortMapService, merged
from app.engine.portmap.status import Mapping, MapState, PortMapStatus
from app.engine.sockets import Sockets

TCP = Mapping("TCP", 6881, 6881, "PCP")


def _failed(reason: str) -> PortMapStatus:
    return PortMapStatus(MapState.FAILED, reason=reason)


def test_one_open_port_is_enough_and_its_address_is_kept() -> None:
    status = merged({"UPnP": _failed("the router refused"), "NAT-PMP/PCP": PortMapStatus(MapState.MAPPED, (TCP,), "198.51.100.2")})
    assert status == PortMapStatus(MapState.MAPPED, (TCP,), "198.51.100.2")


def test_while_one_method_still_asks_the_status_is_trying() -> None:
    assert merged({"UPnP": _failed("x"), "NAT-PMP/PCP": PortMapStatus(MapState.TRYING)}).state == MapState.TRYING


def test_the_same_reason_is_said_once_and_different_ones_are_named() -> None:
    same = merged({"UPnP": _failed("the router did not answer"), "NAT-PMP/PCP": _failed("the router did not answer")})
    assert same.summary == "No port mapping: the router did not answer"
    both = merged({"UPnP": _failed("the router refused"), "NAT-PMP/PCP": _failed("the router did not answer")})
    assert both.reason == "UPnP: the router refused; NAT-PMP/PCP: the router did not answer"


def test_no_method_means_off() -> None:
    assert merged({}).state == MapState.OFF


async def test_bound_to_loopback_nothing_is_started() -> None:
    service = PortMapService(Sockets("127.0.0.1"), {"TCP": 6881, "UDP": 6881})
    await service.start()
    assert service.status.state == MapState.FAILED and "127.0.0.1" in service.status.reason
    await service.close()
