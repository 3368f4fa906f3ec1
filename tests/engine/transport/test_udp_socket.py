"""The shared UDP socket's batched sending: runs of equal-sized datagrams leave in one system
call (Linux UDP GSO) and arrive as the same datagrams, in order."""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from app.engine.sockets import Sockets
from app.engine.transport.udp_socket import MAX_GSO_BYTES, UdpSocket, segment_runs

WAIT = 10.0  # seconds any single datagram may take before the test fails


def sizes(runs: list[list[bytes]]) -> list[list[int]]:
    return [[len(datagram) for datagram in run] for run in runs]


def test_a_run_is_one_size_but_its_last_datagram_may_be_shorter() -> None:
    datagrams = [bytes(size) for size in (1400, 1400, 1400, 600, 1400, 20, 20)]
    assert sizes([list(run) for run in segment_runs(datagrams)]) == [[1400, 1400, 1400, 600], [1400, 20], [20]]


def test_a_run_stays_under_one_ip_datagram() -> None:
    runs = [list(run) for run in segment_runs([bytes(1400)] * 100)]
    assert [len(run) for run in runs] == [46, 46, 8]
    assert all(sum(map(len, run)) <= MAX_GSO_BYTES for run in runs)


def test_a_lone_datagram_is_a_run_of_its_own() -> None:
    assert sizes([list(run) for run in segment_runs([bytes(1400)])]) == [[1400]]
    assert list(segment_runs([])) == []


@pytest.mark.parametrize("gso", [True, False], ids=["batched", "one-by-one"])
async def test_send_many_delivers_the_same_datagrams_in_order(gso: bool) -> None:
    udp = UdpSocket()
    await udp.start(Sockets("127.0.0.1"), 0)
    udp._gso = gso and sys.platform == "linux"
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    loop = asyncio.get_running_loop()
    sent = [bytes([n]) * 1400 for n in range(60)] + [b"tail" * 100, b"ack" * 7, b"ack" * 7]
    try:
        udp.send_many(sent, receiver.getsockname())
        received = [await asyncio.wait_for(loop.sock_recv(receiver, 65536), WAIT) for _ in sent]
        batched = udp._gso and udp._reader is not None
    finally:
        receiver.close()
        udp.close()
    assert received == sent
    if gso and sys.platform == "linux":
        assert batched  # the batched path ran, and the kernel took it
