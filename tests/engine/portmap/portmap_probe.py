"""Runs a PortMapService inside a test's network namespace and reports on stdout, one JSON line
per change of status; a line on stdin (or its end) closes the service, which removes the
mappings, and prints {"closed": true}.

    ip netns exec NS python -m tests.engine.portmap.portmap_probe --port 40000 --lifetime 4
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from app.engine.portmap.service import PortMapOptions, PortMapService
from app.engine.sockets import Sockets


def _print(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def _report(service: PortMapService) -> None:
    last = None
    while True:
        status = service.status
        if status != last:
            _print(state=status.state.value, summary=status.summary, address=status.external_address,
                   mappings=[dataclasses.asdict(m) for m in status.mappings])
            last = status
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> None:
    options = PortMapOptions(lifetime=args.lifetime, attempts=args.attempts, retry_after=args.retry_after,
                             discovery_ms=args.discovery_ms, upnp=args.method in ("both", "upnp"),
                             pmp=args.method in ("both", "pmp"))
    service = PortMapService(Sockets(args.bind), {"TCP": args.port, "UDP": args.port}, options)
    await service.start()
    reporter = asyncio.ensure_future(_report(service))
    await asyncio.to_thread(sys.stdin.readline)
    reporter.cancel()
    await service.close()
    _print(closed=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--lifetime", type=int, default=3600)
    parser.add_argument("--attempts", type=int, default=4)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--discovery-ms", type=int, default=1000)
    parser.add_argument("--method", choices=("both", "upnp", "pmp"), default="both")
    asyncio.run(main(parser.parse_args()))
