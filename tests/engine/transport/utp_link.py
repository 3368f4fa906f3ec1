"""Two uTP cores on a simulated link with a fake clock: delay, loss, duplication, reordering,
a bottleneck queue. Nothing here sleeps; time jumps to the next delivery or timer."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from app.engine.transport.utp import MAX_PAYLOAD, Closed, DataReceived, Event, UtpConnection
from app.engine.transport.utp_codec import Packet, PacketType, decode_packet

MAX_STEPS = 2_000_000


@dataclass
class Path:
    """One direction of the link."""

    delay: Callable[[float], float] = lambda now: 0.010
    loss: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0  # extra random delay up to this: reorders packets
    rate: float | None = None  # bytes per second through a queue (a bottleneck), None: unlimited
    drop: Callable[[Packet], bool] | None = None  # drop exactly these packets
    queue_free: float = 0.0
    sent: list[tuple[float, Packet]] = field(default_factory=list)  # every datagram put on this path
    queue_delays: list[tuple[float, float]] = field(default_factory=list)


class Link:
    """`a` dials `b`; `b` is created from a's SYN as the adapter would."""

    def __init__(self, forward: Path | None = None, backward: Path | None = None, *, seed: int = 1,
                 a_seq: int = 100, b_seq: int = 40000, connection_id: int = 5000,
                 payload: int = MAX_PAYLOAD) -> None:
        self.rng = random.Random(seed)
        self.now = 0.0
        self.paths = {"a": forward or Path(), "b": backward or Path()}  # keyed by sender
        self.payload = payload  # both ends' packet data size, as the path's MTU allows
        self.a = UtpConnection.outgoing(connection_id, a_seq, payload=payload)
        self.b: UtpConnection | None = None
        self.b_seq = b_seq
        self.events: dict[str, list[Event]] = {"a": [], "b": []}
        self.received = {"a": bytearray(), "b": bytearray()}
        self.outbox = {"a": b"", "b": b""}
        self._written = {"a": 0, "b": 0}  # bytes of the outbox already taken by `send`
        self._heap: list[tuple[float, int, str, bytes]] = []
        self._count = 0

    def connection(self, side: str) -> UtpConnection | None:
        return self.a if side == "a" else self.b

    def closed(self, side: str) -> Closed | None:
        return next((event for event in self.events[side] if isinstance(event, Closed)), None)

    def write(self, side: str, data: bytes) -> None:
        """The app on `side` writes `data`; it goes in as `send` takes it (back-pressure)."""
        self.outbox[side] = self.outbox[side][self._written[side] :] + data
        self._written[side] = 0

    def unsent(self, side: str) -> int:
        return len(self.outbox[side]) - self._written[side]

    def start(self) -> None:
        self.a.connect(self.now)
        self.pump()

    def pump(self) -> None:
        for side in ("a", "b"):
            connection = self.connection(side)
            if connection is None:
                continue
            self._feed(side, connection)
            for datagram in connection.datagrams_to_send(self.now):
                self._put(side, datagram)
            for event in connection.events():
                self.events[side].append(event)
                if isinstance(event, DataReceived):
                    self.received[side] += event.data

    def _feed(self, side: str, connection: UtpConnection) -> None:
        start = self._written[side]
        if self.unsent(side) and connection.send_capacity and not self.closed(side):
            view = memoryview(self.outbox[side])[start : start + connection.send_capacity]
            self._written[side] += connection.send(view)

    def _put(self, side: str, datagram: bytes) -> None:
        path = self.paths[side]
        packet = decode_packet(datagram)
        path.sent.append((self.now, packet))
        if (path.drop is not None and path.drop(packet)) or self.rng.random() < path.loss:
            return
        leaves = self.now
        if path.rate is not None:
            path.queue_free = max(path.queue_free, self.now) + len(datagram) / path.rate
            leaves = path.queue_free
            path.queue_delays.append((self.now, leaves - self.now))
        arrives = leaves + path.delay(self.now) + self.rng.random() * path.jitter
        copies = 2 if self.rng.random() < path.duplicate else 1
        for copy in range(copies):
            self._count += 1
            heapq.heappush(self._heap, (arrives + copy * 0.001, self._count, side, datagram))

    def _deliver(self, sender: str, datagram: bytes) -> None:
        if sender == "b":
            self.a.receive_datagram(datagram, self.now)
        elif self.b is not None:
            self.b.receive_datagram(datagram, self.now)
        else:
            packet = decode_packet(datagram)
            if packet.type is PacketType.SYN:
                self.b = UtpConnection.incoming(packet, self.b_seq, self.now, payload=self.payload)

    def run(self, until: Callable[[], bool], limit: float = 600.0) -> None:
        """Advance the fake clock until `until()` holds; fail if it does not by `limit` seconds."""
        self.pump()  # what the apps did since the last step (close, resume_reading ...)
        for _ in range(MAX_STEPS):
            if until():
                return
            moment = self._next_moment()
            if moment is None:
                raise AssertionError(f"the link went quiet at {self.now:.3f} s before the condition held")
            if moment > limit:
                raise AssertionError(f"the condition did not hold within {limit} simulated seconds")
            self.now = max(self.now, moment)
            self._step()
        raise AssertionError("too many steps")

    def run_for(self, seconds: float) -> None:
        end = self.now + seconds
        self.run(lambda: self._next_moment() is None or (self._next_moment() or 0) > end, limit=end + 1)
        self.now = max(self.now, end)

    def _next_moment(self) -> float | None:
        moments = [self._heap[0][0]] if self._heap else []
        for connection in (self.a, self.b):
            timer = connection.next_timer() if connection is not None else None
            if timer is not None:
                moments.append(timer)
        return min(moments, default=None)

    def _step(self) -> None:
        while self._heap and self._heap[0][0] <= self.now:
            _, _, sender, datagram = heapq.heappop(self._heap)
            self._deliver(sender, datagram)
        for connection in (self.a, self.b):
            timer = connection.next_timer() if connection is not None else None
            if timer is not None and timer <= self.now:
                connection.timeout(self.now)
        self.pump()
