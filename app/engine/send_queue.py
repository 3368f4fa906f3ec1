"""Coalesced writes: what connections queue during one turn of the event loop leaves in one write each.

A verified piece sends a `have` to every peer, the endgame cancels blocks on several, a rechoke
chokes some and unchokes others: one system call per message made small control messages cost
more than the piece data (issue 14). A connection with bytes queued joins the loop's
`SendQueue` once; a single `loop.call_soon` callback, run at the start of the next turn, has
each of them write everything it queued, in order.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Protocol

__all__ = ["Sender", "SendQueue", "send_queue"]


class Sender(Protocol):
    """A connection that writes what it queued, when the send queue says so."""

    def write_queued(self, now: float) -> None: ...


class SendQueue:
    """The connections with bytes queued this turn; one callback writes them all."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[Sender] = []

    def add(self, sender: Sender) -> None:
        """`sender` has bytes queued: it writes them at the next flush (add it once a turn)."""
        if not self._pending:
            # No reference to the loop kept: the queue is the value of a weak key (the loop).
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(sender)

    def flush(self) -> None:
        """Each pending connection writes what it queued (also in order of joining)."""
        pending, self._pending = self._pending, []
        now = time.monotonic()
        for sender in pending:
            sender.write_queued(now)


_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SendQueue] = weakref.WeakKeyDictionary()


def send_queue(loop: asyncio.AbstractEventLoop) -> SendQueue:
    """The send queue of `loop` (one per loop: tests run many loops in one process)."""
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = SendQueue()
    return queue
