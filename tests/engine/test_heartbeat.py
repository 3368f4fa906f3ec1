"""The session's tick visits the torrents that have work; idle ones sleep on their own timers."""

from dataclasses import dataclass, field

from app.engine.heartbeat import MAX_SLEEP, Heartbeat


@dataclass(eq=False)
class FakeTorrent:
    """Busy while `busy`; else asleep until `wake_at` (None: no timer of its own)."""

    busy: bool = True
    wake_at: float | None = None
    ticks: list[float] = field(default_factory=list)
    counted: float = 0.0

    def count_time(self, elapsed: float) -> None:
        self.counted += elapsed

    def tick(self, now: float, elapsed: float) -> None:
        self.ticks.append(now)

    def sleeps_until(self, now: float) -> float | None:
        return None if self.busy else (self.wake_at if self.wake_at is not None else float("inf"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _beat(heartbeat: Heartbeat, clock: Clock, at: float) -> None:
    clock.now = at
    heartbeat.beat(at)


async def test_idle_torrents_are_not_visited_until_their_timer():
    clock = Clock()
    heartbeat = Heartbeat(clock)
    busy, idle = FakeTorrent(), FakeTorrent(busy=False, wake_at=5.0)
    quiet = [FakeTorrent(busy=False) for _ in range(1000)]
    for torrent in (busy, idle, *quiet):
        heartbeat.join(torrent)
    _beat(heartbeat, clock, 1.0)  # each is looked at once, then the idle ones sleep
    assert heartbeat.visits == 1002 and heartbeat.awake == 1
    for second in (2.0, 3.0, 4.0):
        _beat(heartbeat, clock, second)
    assert heartbeat.visits == 1002 + 3  # only the busy one
    _beat(heartbeat, clock, 5.0)
    assert idle.ticks == [1.0, 5.0] and idle.counted == 5.0  # its time counted across the sleep
    heartbeat.close()


async def test_a_woken_torrent_is_ticked_again_and_sleepers_wake_at_least_every_max_sleep():
    clock = Clock()
    heartbeat = Heartbeat(clock)
    torrent = FakeTorrent(busy=False)
    heartbeat.join(torrent)
    _beat(heartbeat, clock, 1.0)
    torrent.busy = True
    heartbeat.wake(torrent)  # a peer arrived
    _beat(heartbeat, clock, 2.0)
    assert torrent.ticks == [1.0, 2.0]
    torrent.busy = False
    _beat(heartbeat, clock, 3.0)
    _beat(heartbeat, clock, 3.0 + MAX_SLEEP - 1)
    assert torrent.ticks == [1.0, 2.0, 3.0]
    _beat(heartbeat, clock, 3.0 + MAX_SLEEP)
    assert torrent.ticks[-1] == 3.0 + MAX_SLEEP
    heartbeat.close()


async def test_settle_counts_a_sleeper_time_and_leave_stops_the_ticks():
    clock = Clock()
    heartbeat = Heartbeat(clock)
    torrent = FakeTorrent(busy=False)
    heartbeat.join(torrent)
    _beat(heartbeat, clock, 1.0)
    clock.now = 31.0
    heartbeat.settle(torrent)
    assert torrent.counted == 31.0
    heartbeat.leave(torrent)
    _beat(heartbeat, clock, 100.0)
    assert torrent.ticks == [1.0] and torrent.counted == 31.0
    heartbeat.close()
