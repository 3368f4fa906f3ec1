"""A hostile "router" for the port mapping tests, run inside the router's network namespace:
it answers SSDP searches (UDP 1900, group 239.255.255.250) and NAT-PMP/PCP requests (UDP 5351)
with what the mode says, and serves a device description over HTTP on port 8080.

    ip netns exec NS python -m tests.hostile.hostile_router --mode garbage --lan 10.77.0.1
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GROUP = "239.255.255.250"


def ssdp_answer(mode: str, lan: str) -> bytes:
    location = f"http://{lan}:8080/rootDesc.xml"
    headers = (f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:"
               f"InternetGatewayDevice:1\r\nUSN: uuid:x\r\nLOCATION: {location}\r\n")
    return {
        "garbage": os.urandom(300),
        "huge": (headers + "X-FILLER: " + "A" * 60_000 + "\r\n\r\n").encode(),
        "bad-description": (headers + "\r\n").encode(),
    }[mode]


def gateway_answer(mode: str, request: bytes) -> bytes:
    """Wrong opcode, wrong nonce, garbage or huge: never a usable answer."""
    answers = {
        "garbage": os.urandom(40),
        "huge": b"\x02\x81" + os.urandom(8000),
        "bad-description": struct.pack("!BBBBII12x", 2, 0x82, 0, 0, 3600, 1) + os.urandom(36),
    }
    return answers[mode]


class _Description(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        body = b"<?xml version='1.0'?><root><device><serviceList>" + b"<service>" * 5000 + b"\x00\xff"
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve_ssdp(mode: str, lan: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", 1900))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP) + socket.inet_aton(lan))
    while True:
        data, sender = sock.recvfrom(65535)
        if data.startswith(b"M-SEARCH"):
            sock.sendto(ssdp_answer(mode, lan), sender)


def _serve_gateway(mode: str, lan: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((lan, 5351))
    while True:
        data, sender = sock.recvfrom(2048)
        sock.sendto(gateway_answer(mode, data), sender)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("garbage", "huge", "bad-description"), required=True)
    parser.add_argument("--lan", required=True)
    args = parser.parse_args()
    threading.Thread(target=_serve_gateway, args=(args.mode, args.lan), daemon=True).start()
    threading.Thread(target=_serve_ssdp, args=(args.mode, args.lan), daemon=True).start()
    print("ready", flush=True)
    ThreadingHTTPServer((args.lan, 8080), _Description).serve_forever()
