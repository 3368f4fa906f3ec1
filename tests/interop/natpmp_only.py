"""The part of a NAT-PMP-only router's firmware (one made before PCP) that the lab's miniupnpd
lacks: its answer to any request of another version than 0. RFC 6886 3.5: "If the version in
the request is not zero, then the NAT-PMP server MUST return ... Unsupported Version", with
version 0 and the request's opcode plus 128.

The lab's nftables rule sends only datagrams whose version byte is 2 (PCP) here; version 0
still reaches miniupnpd, which makes the mappings. Runs in the router's namespace:

    ip netns exec NS python -m tests.interop.natpmp_only PORT LOG
"""

from __future__ import annotations

import socket
import struct
import sys
import time
from pathlib import Path

UNSUPPORTED_VERSION = 1  # RFC 6886 3.5
RESPONSE_BIT = 128


def refusal(request: bytes, started: float) -> bytes:
    opcode = (request[1] & 0x7F) if len(request) > 1 else 0
    epoch = int(time.monotonic() - started)
    return struct.pack("!BBHI", 0, RESPONSE_BIT | opcode, UNSUPPORTED_VERSION, epoch)


def main(port: int, log: Path) -> None:
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, log.open("a") as heard:
        sock.bind(("0.0.0.0", port))
        heard.write("listening\n")
        heard.flush()
        while True:
            request, sender = sock.recvfrom(1100)
            sock.sendto(refusal(request, started), sender)
            heard.write(f"version {request[0] if request else -1} from {sender[0]}\n")
            heard.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
