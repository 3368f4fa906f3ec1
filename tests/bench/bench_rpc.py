"""torrent-get over 1,000 torrents, as transmission-remote -l and a three-column client ask.

    .venv/bin/python -m tests.bench.bench_rpc [--torrents N]

In-process (no HTTP): the time of RpcMethods.answer, median of 20, as this thread's CPU time
(on a busy shared machine the wall clock also counts other processes' turns).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from app.engine import bencode
from app.engine.session import Session
from app.rpc.methods import DaemonContext, RpcMethods
from app.rpc.settings import defaults
from tests.swarm_helpers import loopback_config

LIST_FIELDS = ["error", "errorString", "eta", "id", "isFinished", "leftUntilDone", "name", "peersGettingFromUs",
               "peersSendingToUs", "rateDownload", "rateUpload", "sizeWhenDone", "status", "uploadRatio"]
RUNS = 20


async def _torrents(session: Session, folder: Path, count: int) -> None:
    for number in range(count):
        info = {b"name": f"t{number}".encode(), b"piece length": 262144, b"pieces": os.urandom(20 * 40),
                b"length": 262144 * 40}
        await session.add_torrent(bencode.encode({b"info": info}), folder, paused=True)


async def _median(methods: RpcMethods, fields: list[str]) -> tuple[float, int]:
    body = json.dumps({"method": "torrent-get", "arguments": {"fields": fields}}).encode()
    times = []
    for _ in range(RUNS):
        start = time.thread_time()
        answer = await methods.answer(body)
        times.append(time.thread_time() - start)
    return statistics.median(times), len(json.dumps(answer))


async def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp())
    session = Session(loopback_config(download_dir=folder))
    await session.start()
    try:
        await _torrents(session, folder, count)
        context = DaemonContext("bench", str(folder), lambda changes: None, lambda: None)
        methods = RpcMethods(session, defaults() | {"download-dir": str(folder)}, context)
        for label, fields in (("transmission-remote -l", LIST_FIELDS), ("id, name, percentDone", ["id", "name", "percentDone"])):
            seconds, size = await _median(methods, fields)
            print(f"{count} torrents, {label}: {seconds * 1000:.1f} ms per torrent-get ({size:,} bytes of JSON)")
    finally:
        await session.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--torrents", type=int, default=1000)
    asyncio.run(main(parser.parse_args().torrents))
