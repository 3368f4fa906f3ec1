"""Loop callbacks that cannot stop their owner: what they raise is logged and dropped."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

_P = ParamSpec("_P")


def logged(log: logging.Logger, owner: str) -> Callable[[Callable[_P, None]], Callable[_P, None]]:
    """A decorator for datagram and timer callbacks: one bad datagram or timer must not stop
    `owner` (the DHT node, the uTP socket ...), so an exception is logged, not raised."""

    def wrap(callback: Callable[_P, None]) -> Callable[_P, None]:
        @functools.wraps(callback)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
            try:
                callback(*args, **kwargs)
            except Exception:
                log.exception("%s: %s failed", owner, callback.__name__)

        return guarded

    return wrap
