"""app/engine/portmap/gateway.py: the default gateway from a Linux routing table."""

import ipaddress
import sys
from pathlib import Path

from app.engine.portmap.gateway import default_gateway

HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"


def _hex(address: str) -> str:
    return f"{int.from_bytes(ipaddress.IPv4Address(address).packed, sys.byteorder):08X}"


def _table(tmp_path: Path, *routes: tuple[str, str, str, int, str]) -> Path:
    lines = [HEADER] + [f"{i}\t{_hex(d)}\t{_hex(g)}\t{f:04X}\t0\t0\t0\t{_hex(m)}\t0\t0\t0" for i, d, g, f, m in routes]
    path = tmp_path / "route"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_default_route_s_gateway_and_the_one_of_the_bound_interface(tmp_path: Path) -> None:
    routes = _table(
        tmp_path,
        ("eth0", "0.0.0.0", "192.168.1.1", 0x3, "0.0.0.0"),
        ("eth0", "192.168.1.0", "0.0.0.0", 0x1, "255.255.255.0"),
        ("tun0", "0.0.0.0", "10.8.0.1", 0x3, "0.0.0.0"),
        ("tun0", "10.8.0.0", "0.0.0.0", 0x1, "255.255.255.0"),
    )
    assert default_gateway(None, routes) == "192.168.1.1"
    assert default_gateway("10.8.0.6", routes) == "10.8.0.1"
    assert default_gateway("172.16.0.2", routes) is None  # no interface holds that address


def test_no_table_or_no_default_route_means_no_gateway(tmp_path: Path) -> None:
    assert default_gateway(None, tmp_path / "missing") is None
    assert default_gateway(None, _table(tmp_path, ("eth0", "192.168.1.0", "0.0.0.0", 0x1, "255.255.255.0"))) is None
