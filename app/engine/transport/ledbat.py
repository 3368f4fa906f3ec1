"""uTP congestion control (BEP 29, LEDBAT as libtorrent runs it): a pure window in bytes.

The window grows while the queueing delay our packets see stays under the 100 ms target and
shrinks as it goes over, so uTP yields to other traffic sharing the uplink. Loss halves it,
as in TCP; a retransmission timeout drops it to one packet and restarts slow start.
"""

from __future__ import annotations

from collections import deque

from app.engine.transport.utp_codec import U32_MASK, u32_less

TARGET_DELAY = 100_000  # BEP 29: CCONTROL_TARGET, 100 ms in microseconds
MAX_GAIN = 3000  # bytes per RTT at full off-target (libtorrent's utp_gain_factor)
HISTORY_BUCKET = 60.0  # seconds per base-delay bucket
HISTORY_BUCKETS = 3  # BEP 29: base_delay is the minimum over the last two minutes (and the current one)
LOSS_FACTOR = 0.5  # BEP 29 (2012 revision): the window is halved on loss
LOSS_INTERVAL = 0.1  # libtorrent's utp_cwnd_reduce_timer: at most one cut per 100 ms


class DelayHistory:
    """A sliding minimum of 32-bit wrapping delay samples, in buckets of a minute.

    `add` returns how far a sample lies above that minimum: the queueing delay.
    """

    def __init__(self) -> None:
        self._buckets: deque[int] = deque(maxlen=HISTORY_BUCKETS)
        self._bucket_start = 0.0
        self.base: int | None = None

    def add(self, sample: int, now: float) -> int:
        if not self._buckets or now - self._bucket_start >= HISTORY_BUCKET:
            self._buckets.append(sample)
            self._bucket_start = now
            self.base = _wrapping_min(self._buckets)
        elif u32_less(sample, self._buckets[-1]):
            self._buckets[-1] = sample
        if self.base is None or u32_less(sample, self.base):
            self.base = sample
        return (sample - self.base) & U32_MASK


def _wrapping_min(samples: deque[int]) -> int:
    lowest = samples[0]
    for sample in samples:
        if u32_less(sample, lowest):
            lowest = sample
    return lowest


class Ledbat:
    """The congestion window (`window`, bytes) of one connection."""

    def __init__(self, packet_size: int, max_window: int) -> None:
        self.packet_size = packet_size
        self.max_window = max_window
        self.window = float(2 * packet_size)
        self.slow_start = True
        self.slow_start_threshold = 0.0
        self._next_cut = 0.0

    def on_ack(self, acked: int, delay: int, in_flight: int, saturated: bool) -> None:
        """BEP 29: window += MAX_GAIN * off_target / target * acked / in_flight.

        In slow start the window grows by the bytes acked (as in TCP) until the delay reaches
        the target or the threshold; an application that does not fill the window leaves it be.
        """
        if delay >= TARGET_DELAY and self.slow_start:
            self.slow_start_threshold = self.window / 2
            self.slow_start = False
        if not saturated or in_flight <= 0:
            return
        linear = MAX_GAIN * (TARGET_DELAY - delay) / TARGET_DELAY * acked / in_flight
        gain = linear
        if self.slow_start:
            if self.slow_start_threshold and self.window + acked > self.slow_start_threshold:
                self.slow_start = False
            else:
                gain = max(float(acked), linear)
        self._set(self.window + gain)

    def on_loss(self, now: float) -> bool:
        """Halve the window for a lost packet, at most once per LOSS_INTERVAL; True if it was cut."""
        if now < self._next_cut:
            return False
        self._next_cut = now + LOSS_INTERVAL
        self._set(self.window * LOSS_FACTOR)
        if self.slow_start:
            self.slow_start_threshold = self.window
            self.slow_start = False
        return True

    def on_timeout(self, idle: bool) -> None:
        """An idle direction decays its window; a real timeout restarts from one packet (libtorrent)."""
        self._set(self.window * 2 / 3 if idle else self.packet_size)
        if not idle:
            self.slow_start = True

    def _set(self, window: float) -> None:
        self.window = min(float(self.max_window), max(float(self.packet_size), window))
