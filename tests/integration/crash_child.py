"""`piecemeal-cli download` for the crash test: it says on stdout when this run has written
its first verified piece, so that the test kills a process that has done work of its own.

    python -m tests.integration.crash_child download TORRENT -o OUT ...
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from app import cli
from app.engine.storage.disk import Storage

WROTE = "wrote a verified piece"


def _reporting(write: Callable[..., Awaitable[bool]]) -> Callable[..., Awaitable[bool]]:
    reported = False

    async def verify_and_write(storage: Storage, piece: int, data: object) -> bool:
        nonlocal reported
        ok = await write(storage, piece, data)
        if ok and not reported:  # hashed and written to the file (the page cache survives a SIGKILL)
            reported = True
            print(WROTE, flush=True)
        return ok

    return verify_and_write


if __name__ == "__main__":
    Storage.verify_and_write = _reporting(Storage.verify_and_write)  # type: ignore[method-assign]
    sys.exit(cli.main(sys.argv[1:]))
