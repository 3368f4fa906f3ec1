"""Run a program when a download completes, with qBittorrent's placeholders.

The command line is split into arguments first (POSIX shell rules, but no shell runs it),
then each placeholder is replaced inside its argument: a name with spaces or quotes stays
one argument and can never become a second command.

    %N torrent name   %F content path (its folder, or its single file)   %D save path
    %I info-hash (hex)   %L category   %G tags (comma-separated)   %Z size in bytes   %% a percent sign
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from app.engine import events
from app.engine.errors import EngineError

log = logging.getLogger(__name__)

_PLACEHOLDER: Final = re.compile(r"%[NFDILGZ%]")
WAIT_LIMIT: Final = 3600.0  # a program still running after an hour is left to itself, and said so


@dataclass(frozen=True, slots=True)
class Finished:
    """What the placeholders stand for."""

    name: str
    content_path: str
    save_path: str
    info_hash: str
    category: str = ""
    tags: tuple[str, ...] = ()
    size: int = 0


def _values(done: Finished) -> Mapping[str, str]:
    return {
        "%N": done.name, "%F": done.content_path, "%D": done.save_path, "%I": done.info_hash,
        "%L": done.category, "%G": ",".join(done.tags), "%Z": str(done.size), "%%": "%",
    }


def command_line(template: str, done: Finished) -> list[str]:
    """The program and its arguments; EngineError if the line cannot be split (an open quote)."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise EngineError(f"The program to run on completion cannot be read: {exc}.") from None
    values = _values(done)
    return [_PLACEHOLDER.sub(lambda m: values[m.group()], word) for word in words]


async def run_program(arguments: list[str]) -> None:
    """Start it and wait for it in the background; a failure is logged in plain words."""
    if not arguments:
        return
    try:
        process = await asyncio.create_subprocess_exec(
            *arguments, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        log.warning("could not run the program on completion %s: %s", arguments[0], exc.strerror or exc)
        return
    try:
        status = await asyncio.wait_for(process.wait(), WAIT_LIMIT)
    except TimeoutError:
        log.warning("the program on completion %s is still running after an hour; left running", arguments[0])
        return
    if status != 0:
        log.warning("the program on completion %s ended with status %s", arguments[0], status)


class CompletionRunner:
    """Listens for finished downloads and runs the chosen program; never blocks the loop."""

    def __init__(self, program: Callable[[], str], describe: Callable[[str], Finished | None]) -> None:
        self._program = program
        self._describe = describe
        self._running: set[asyncio.Task[None]] = set()

    def heard(self, event: events.Event) -> None:
        template = self._program()
        if not isinstance(event, events.TorrentFinished) or not template.strip():
            return
        done = self._describe(event.info_hash)
        if done is None:
            return
        try:
            arguments = command_line(template, done)
        except EngineError as exc:
            log.warning("%s", exc)
            return
        task = asyncio.ensure_future(run_program(arguments))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close(self) -> None:
        """Stop waiting for the programs (they run on by themselves)."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
