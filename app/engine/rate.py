"""Transfer-rate meter: bytes are counted as they pass, the rate is settled once a second."""

from __future__ import annotations


class RateMeter:
    """An exponential moving average over about `window` seconds of one-second samples."""

    __slots__ = ("total", "_pending", "_rate", "_alpha")

    def __init__(self, window: float = 5.0) -> None:
        self.total = 0
        self._pending = 0
        self._rate = 0.0
        self._alpha = 1.0 / window

    def add(self, nbytes: int) -> None:
        self.total += nbytes
        self._pending += nbytes

    def tick(self, elapsed: float) -> None:
        """Fold the bytes counted since the last tick into the rate."""
        if elapsed <= 0:
            return
        sample = self._pending / elapsed
        self._pending = 0
        weight = min(1.0, self._alpha * elapsed)
        self._rate += (sample - self._rate) * weight
        if self._rate < 1.0:
            self._rate = 0.0

    @property
    def rate(self) -> float:
        return self._rate
