"""Run inside a fresh network namespace by test_lsd.py: two LSD services on the two ends of a
veth pair find each other over the IPv6 group [ff15::efc0:988f] (BEP 14). Prints what each heard."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess

from app.engine.lsd import LsdService
from app.engine.sockets import Sockets

HASH = bytes(range(20))
ENDS = {"v0": "fd99::1", "v1": "fd99::2"}


def make_links() -> None:
    commands = [["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"]]
    for name, address in ENDS.items():
        commands += [["ip", "-6", "addr", "add", f"{address}/64", "dev", name, "nodad"], ["ip", "link", "set", name, "up"]]
    for command in commands:
        subprocess.run(command, check=True)


async def main() -> None:
    heard: dict[str, list[tuple[str, int]]] = {name: [] for name in ENDS}
    services = [
        LsdService(7000 + n, lambda _, peer, name=name: heard[name].append(peer), sockets=Sockets(address),
                   interval=0.05, family=socket.AF_INET6)
        for n, (name, address) in enumerate(ENDS.items(), start=1)
    ]
    for service in services:
        service.set_info_hashes([HASH])
        await service.start()
    try:
        async with asyncio.timeout(10):
            while not all(heard.values()):
                await asyncio.sleep(0.05)
    finally:
        for service in services:
            service.close()
    print(json.dumps({name: sorted(set(map(tuple, peers))) for name, peers in heard.items()}))


if __name__ == "__main__":
    make_links()
    asyncio.run(main())
