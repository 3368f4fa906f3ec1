"""Runs port mapping inside a test's network namespace and reports on stdout, one JSON line per
change of status. By default a bare PortMapService; with --session a whole Session (listening,
mapping its ports). Commands come on stdin, one a line: "port N" changes the session's listen
port; an empty line (or the end of stdin) closes, which removes the mappings, then {"closed": true}.

    ip netns exec NS python -m tests.engine.portmap.portmap_probe --port 40000 --lifetime 4
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.engine.portmap.service import PortMapOptions, PortMapService
from app.engine.portmap.status import PortMapStatus
from app.engine.session import Session, SessionConfig
from app.engine.sockets import Sockets


def _print(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def _report(status: Callable[[], PortMapStatus]) -> None:
    last = None
    while True:
        now = status()
        if now != last:
            _print(state=now.state.value, summary=now.summary, address=now.external_address,
                   mappings=[dataclasses.asdict(m) for m in now.mappings])
            last = now
        await asyncio.sleep(0.05)


async def _serve(status: Callable[[], PortMapStatus], set_port: Callable[[int], Awaitable[None]]) -> None:
    reporter = asyncio.ensure_future(_report(status))
    while (line := (await asyncio.to_thread(sys.stdin.readline)).strip()):
        await set_port(int(line.removeprefix("port ")))
    reporter.cancel()


async def _no_port_change(port: int) -> None:
    raise SystemExit("a bare service has no listen port to change: use --session")


async def main(args: argparse.Namespace) -> None:
    options = PortMapOptions(lifetime=args.lifetime, attempts=args.attempts, retry_after=args.retry_after,
                             discovery_ms=args.discovery_ms, upnp=args.method in ("both", "upnp"),
                             pmp=args.method in ("both", "pmp"))
    if args.session:
        await _session(args, options)
    else:
        service = PortMapService(Sockets(args.bind), {"TCP": args.port, "UDP": args.port}, options)
        await service.start()
        await _serve(lambda: service.status, _no_port_change)
        await service.close()
    _print(closed=True)


async def _session(args: argparse.Namespace, options: PortMapOptions) -> None:
    config = SessionConfig(listen_host=args.bind, listen_port=args.port, enable_dht=False, enable_lsd=False,
                           download_dir=Path(tempfile.mkdtemp()))
    session = Session(config)
    session.port_map_options = options
    await session.start()

    async def set_port(port: int) -> None:
        await session.set_config(listen_port=port)

    await _serve(lambda: session.snapshot().port_mapping, set_port)
    await session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--session", action="store_true", help="a whole Session, not a bare service")
    parser.add_argument("--lifetime", type=int, default=3600)
    parser.add_argument("--attempts", type=int, default=4)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--discovery-ms", type=int, default=1000)
    parser.add_argument("--method", choices=("both", "upnp", "pmp"), default="both")
    asyncio.run(main(parser.parse_args()))
