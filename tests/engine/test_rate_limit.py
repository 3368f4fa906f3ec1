"""Token buckets with a fake clock, the weekly schedule, and the upload wait on a real loop."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.engine.rate_limit import (
    BURST_SECONDS,
    MIN_BATCH,
    AltSchedule,
    Limits,
    RateLimits,
    TokenBucket,
    current_limits,
)

KIB = 1024
MONDAY, FRIDAY, SATURDAY, SUNDAY = 0, 4, 5, 6


def at(weekday: int, hour: int, minute: int = 0) -> datetime:
    """A time in the week of Monday 2024-01-01."""
    return datetime(2024, 1, 1 + weekday, hour, minute)


# -- the bucket ------------------------------------------------------------------------


def test_unlimited_bucket_never_waits() -> None:
    bucket = TokenBucket()
    bucket.consume(10**9, 0.0)
    assert bucket.delay(0.0) == 0.0


def test_a_whole_message_passes_and_the_bucket_goes_into_debt() -> None:
    bucket = TokenBucket(1000, now=0.0)
    assert bucket.tokens == 1000 * BURST_SECONDS
    assert bucket.delay(0.0) == 0.0
    bucket.consume(2000, 0.0)  # four times the burst: passes whole
    assert bucket.delay(0.0) == pytest.approx(1.5)
    assert bucket.delay(1.0) == pytest.approx(0.5)
    assert bucket.delay(1.5) == 0.0


def test_idle_time_saves_up_only_the_burst() -> None:
    bucket = TokenBucket(1000, now=0.0)
    bucket.consume(500, 0.0)
    bucket.delay(100.0)
    assert bucket.tokens == 1000 * BURST_SECONDS


def test_long_run_rate_is_exact_whatever_the_message_size() -> None:
    bucket = TokenBucket(200 * KIB, now=0.0)
    now, sent = 0.0, 0
    while (now := now + bucket.delay(now)) <= 10.0:
        bucket.consume(16 * KIB + 13, now)
        sent += 16 * KIB + 13
    assert sent == pytest.approx(200 * KIB * 10 + bucket.burst, abs=16 * KIB + 13)


def test_lowering_the_rate_drops_what_was_saved_above_the_new_burst() -> None:
    bucket = TokenBucket(10_000, now=0.0)
    bucket.set_rate(1000, 0.0)
    assert bucket.tokens == 1000 * BURST_SECONDS
    bucket.consume(1500, 0.0)
    assert bucket.delay(0.0) == pytest.approx(1.0)


def test_a_limit_set_on_an_unlimited_bucket_starts_with_a_full_burst() -> None:
    bucket = TokenBucket()
    bucket.consume(10**6, 0.0)
    bucket.set_rate(1000, 5.0)
    assert bucket.tokens == 1000 * BURST_SECONDS
    bucket.set_rate(0, 6.0)
    assert not bucket.limited and bucket.delay(6.0) == 0.0


# -- the schedule ----------------------------------------------------------------------


def test_schedule_within_a_day() -> None:
    weekdays = AltSchedule(frozenset(range(5)), 8 * 60, 18 * 60)
    assert weekdays.active(at(MONDAY, 8))
    assert weekdays.active(at(FRIDAY, 17, 59))
    assert not weekdays.active(at(FRIDAY, 18))
    assert not weekdays.active(at(MONDAY, 7, 59))
    assert not weekdays.active(at(SATURDAY, 12))


def test_schedule_past_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = AltSchedule(frozenset({FRIDAY}), 22 * 60, 6 * 60)
    assert friday_night.active(at(FRIDAY, 23))
    assert friday_night.active(at(SATURDAY, 5, 59))
    assert not friday_night.active(at(SATURDAY, 6))
    assert not friday_night.active(at(SATURDAY, 23))
    assert not friday_night.active(at(FRIDAY, 5))  # Thursday night is not in the schedule


def test_schedule_of_a_whole_day() -> None:
    sundays = AltSchedule(frozenset({SUNDAY}), 0, 0)
    assert sundays.active(at(SUNDAY, 0)) and sundays.active(at(SUNDAY, 23, 59))
    assert not sundays.active(at(MONDAY, 12))


@pytest.mark.parametrize(("days", "start", "end"), [({7}, 0, 60), ({0}, -1, 60), ({0}, 0, 1440)])
def test_schedule_rejects_impossible_days_and_minutes(days: set[int], start: int, end: int) -> None:
    with pytest.raises(ValueError):
        AltSchedule(frozenset(days), start, end)


def test_current_limits_switch_by_hand_or_by_schedule() -> None:
    normal, alt = Limits(1000, 500), Limits(100, 50)
    nights = AltSchedule(frozenset(range(7)), 0, 6 * 60)
    assert current_limits(normal, alt, False, None, at(MONDAY, 3)) is normal
    assert current_limits(normal, alt, True, None, at(MONDAY, 12)) is alt
    assert current_limits(normal, alt, False, nights, at(MONDAY, 3)) is alt
    assert current_limits(normal, alt, False, nights, at(MONDAY, 12)) is normal


# -- the asyncio glue ------------------------------------------------------------------


def test_batches_shrink_with_the_tightest_limit_of_their_direction() -> None:
    limits = RateLimits()
    throttle = limits.throttle()
    assert throttle.batch_bytes(256 * KIB) == 256 * KIB
    limits.set(Limits(up=1024 * KIB))
    assert throttle.batch_bytes(256 * KIB) == 1024 * KIB // 20
    assert throttle.read_bytes(256 * KIB) == 256 * KIB  # downloads are not limited
    throttle.set_limits(Limits(down=2048 * KIB, up=10 * KIB))
    assert throttle.batch_bytes(256 * KIB) == MIN_BATCH
    assert throttle.read_bytes(256 * KIB) == 2048 * KIB // 20
    assert throttle.limits == Limits(2048 * KIB, 10 * KIB)


class FakeClock:
    """Time that passes only when an upload sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_upload_waits_for_the_session_and_the_torrent_bucket() -> None:
    clock = FakeClock()
    limits = RateLimits(clock, clock.sleep)
    limits.set(Limits(up=8 * 1024 * KIB))
    throttle = limits.throttle()
    throttle.set_limits(Limits(up=4 * 1024 * KIB))  # the tighter one rules
    for _ in range(32):
        await throttle.upload(128 * KIB)  # 4 MiB, of which 2 MiB is the torrent bucket's burst
    # The burst (16 blocks) and one more go at once, then each block waits for its 1/32 s.
    assert clock.sleeps == pytest.approx([1 / 32] * 15)
    assert clock.now - 1000.0 == pytest.approx(15 / 32)


async def test_download_waits_as_upload_does() -> None:
    clock = FakeClock()
    limits = RateLimits(clock, clock.sleep)
    limits.set(Limits(down=4 * 1024 * KIB, up=KIB))
    throttle = limits.throttle()
    for _ in range(32):
        await throttle.download(128 * KIB)  # a web seed's body, chunk by chunk
    assert clock.sleeps == pytest.approx([1 / 32] * 15)
    await throttle.upload(KIB)  # the other direction's bucket is untouched
    assert len(clock.sleeps) == 15
