import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.errors import RemoteProtocolError
from app.engine.sockets import Sockets
from app.engine.lsd import (
    MULTICAST_GROUP,
    MULTICAST_GROUP6,
    LsdAnnounce,
    LsdService,
    encode_announce,
    parse_announce,
)
from tests.processes import lacking

HASH_A, HASH_B, HASH_C = bytes(range(20)), b"\xab" * 20, b"\x01" * 20


def test_announce_format_is_bep_14() -> None:
    assert encode_announce([HASH_A], 6881, "c0ffee") == (
        b"BT-SEARCH * HTTP/1.1\r\n"
        b"Host: 239.192.152.143:6771\r\n"
        b"Port: 6881\r\n"
        b"Infohash: 000102030405060708090a0b0c0d0e0f10111213\r\n"
        b"cookie: c0ffee\r\n"
        b"\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("hashes", "port", "cookie"),
    [([HASH_A], 1, ""), ([HASH_A, HASH_B, HASH_C], 65535, "x"), ([HASH_B], 6881, "a-b_c.9")],
)
def test_announce_round_trip(hashes: list[bytes], port: int, cookie: str) -> None:
    assert parse_announce(encode_announce(hashes, port, cookie)) == LsdAnnounce(
        port, tuple(hashes), cookie
    )


def test_parses_libtorrent_style_announces() -> None:
    # libtorrent writes "Host: %s:6771\r\nPort: %d\r\nInfohash: %s\r\ncookie: %x\r\n\r\n\r\n".
    data = (
        b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\n"
        b"Infohash: ABABABABABABABABABABABABABABABABABABABAB\r\ncookie: 5f3e2a\r\n\r\n\r\n"
    )
    assert parse_announce(data) == LsdAnnounce(51413, (HASH_B,), "5f3e2a")


def test_header_names_any_case_bare_newlines_no_cookie_repeated_hashes() -> None:
    data = f"BT-SEARCH * HTTP/1.1\nPORT:  7\nINFOHASH: {HASH_A.hex()}\ninfohash:{HASH_A.hex()}\n\n"
    assert parse_announce(data.encode()) == LsdAnnounce(7, (HASH_A,), "")


@pytest.mark.parametrize(
    ("hashes", "port", "cookie"),
    [
        ([], 1, ""),
        ([HASH_A[:19]], 1, ""),
        ([HASH_A], 0, ""),
        ([HASH_A], 65536, ""),
        ([HASH_A], 1, "a b"),
    ],
)
def test_encode_refuses_what_is_not_an_announce(
    hashes: list[bytes], port: int, cookie: str
) -> None:
    with pytest.raises(ValueError):
        encode_announce(hashes, port, cookie)


GOOD = encode_announce([HASH_A], 6881, "me").decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a BT-SEARCH request"),
        (b"\xff", "not ASCII"),
        (GOOD.replace("BT-SEARCH", "M-SEARCH").encode(), "not a BT-SEARCH request"),
        (GOOD.replace("HTTP/1.1", "HTTP/1.0").encode(), "not a BT-SEARCH request"),
        (GOOD.replace("Port: 6881\r\n", "").encode(), "one valid Port header"),
        (GOOD.replace("6881", "0").encode(), "one valid Port header"),
        (GOOD.replace("6881", "65536").encode(), "one valid Port header"),
        (GOOD.replace("6881", "-1").encode(), "one valid Port header"),
        (GOOD.replace("6881", "６８８１").encode(), "not ASCII"),
        (GOOD.replace("Port: 6881", "Port: 6881\r\nPort: 6882").encode(), "one valid Port header"),
        (GOOD.replace("Infohash: ", "X: ").encode(), "valid Infohash header"),
        (GOOD.replace(HASH_A.hex(), HASH_A.hex()[:-1]).encode(), "valid Infohash header"),
        (GOOD.replace(HASH_A.hex(), HASH_A.hex()[:-1] + "g").encode(), "valid Infohash header"),
        (GOOD.replace(HASH_A.hex(), HASH_A.hex() * 2).encode(), "valid Infohash header"),
        (GOOD.replace("Port: 6881", "Port 6881").encode(), "malformed header line"),
        (GOOD.replace("Port: 6881", ": 6881").encode(), "malformed header line"),
    ],
)
def test_garbage_is_a_remote_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse_announce(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_remote_protocol_error(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_announce(data)
    with contextlib.suppress(RemoteProtocolError):
        parse_announce(b"BT-SEARCH * HTTP/1.1\r\n" + data)


# --- the service over multicast on the loopback interface ---------------------------------


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _loopback_multicast_works(port: int) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((MULTICAST_GROUP, port))
        membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.settimeout(1.0)
        sock.sendto(b"probe", (MULTICAST_GROUP, port))
        return sock.recvfrom(16)[0] == b"probe"
    except OSError:
        return False
    finally:
        sock.close()


@pytest.fixture
async def group_port() -> AsyncIterator[int]:
    port = _free_udp_port()
    if not _loopback_multicast_works(port):
        lacking("multicast", "This machine has no multicast on the loopback interface (LSD, BEP 14, is tested there)")
    yield port


class Heard:
    def __init__(self) -> None:
        self.peers: list[tuple[bytes, tuple[str, int]]] = []
        self.changed = asyncio.Event()

    def __call__(self, info_hash: bytes, peer: tuple[str, int]) -> None:
        self.peers.append((info_hash, peer))
        self.changed.set()

    async def until(self, count: int) -> None:
        while len(self.peers) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=3.0)


async def test_two_services_find_each_other_for_shared_torrents_only(group_port: int) -> None:
    heard_by_a, heard_by_b = Heard(), Heard()
    a = LsdService(7001, heard_by_a, sockets=Sockets("127.0.0.1"), group_port=group_port, interval=0.05)
    b = LsdService(7002, heard_by_b, sockets=Sockets("127.0.0.1"), group_port=group_port, interval=0.05)
    a.set_info_hashes([HASH_A, HASH_B])
    b.set_info_hashes([HASH_B, HASH_C])
    await a.start()
    await b.start()
    try:
        await heard_by_a.until(3)  # several rounds: announces repeat
        await heard_by_b.until(3)
    finally:
        a.close()
        b.close()
    assert set(heard_by_a.peers) == {(HASH_B, ("127.0.0.1", 7002))}
    assert set(heard_by_b.peers) == {(HASH_B, ("127.0.0.1", 7001))}


async def test_own_announces_and_garbage_are_ignored(
    group_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    heard = Heard()
    service = LsdService(7003, heard, sockets=Sockets("127.0.0.1"), group_port=group_port)
    service.set_info_hashes([HASH_A])
    await service.start()
    neighbour = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    neighbour.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    try:
        service.announce_now()
        for datagram in (b"garbage", encode_announce([HASH_A], 7004, "neighbour")):
            neighbour.sendto(datagram, (MULTICAST_GROUP, group_port))
        await heard.until(1)
        await asyncio.sleep(0.05)
    finally:
        neighbour.close()
        service.close()
    assert heard.peers == [(HASH_A, ("127.0.0.1", 7004))]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_ipv6_announces_carry_the_bracketed_group_as_host() -> None:
    datagram = encode_announce([HASH_A], 6881, "c", MULTICAST_GROUP6)
    assert b"Host: [ff15::efc0:988f]:6771\r\n" in datagram
    assert parse_announce(datagram).info_hashes == (HASH_A,)


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_two_services_find_each_other_over_the_ipv6_group() -> None:
    """BEP 14 over IPv6 multicast, [ff15::efc0:988f]:6771, in a network namespace of the test's
    own (a veth pair: loopback has no IPv6 multicast, and nothing may reach a real network)."""
    if not _namespaces_work():
        lacking("netns", "This machine cannot make a network namespace (unshare -rn) for the IPv6 LSD test")
    root = Path(__file__).resolve().parents[2]
    child = [sys.executable, str(Path(__file__).with_name("lsd_ipv6_child.py"))]
    result = subprocess.run(
        ["unshare", "-rn", *child], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"v0": [["fd99::2", 7002]], "v1": [["fd99::1", 7001]]}
