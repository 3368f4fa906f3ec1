from app.engine.dht.rate_limiter import BURST_SECONDS, QueryRateLimiter


def allowed(limiter: QueryRateLimiter, ip: str, count: int, now: float) -> int:
    return sum(limiter.allow(ip, now) for _ in range(count))


def test_one_ip_gets_its_burst_then_its_rate() -> None:
    limiter = QueryRateLimiter(rate=1000.0, per_ip_rate=5.0, now=0.0)
    assert allowed(limiter, "127.0.0.2", 100, 0.0) == 5 * BURST_SECONDS
    assert allowed(limiter, "127.0.0.2", 100, 1.0) == 5
    assert allowed(limiter, "127.0.0.3", 100, 1.0) == 5 * BURST_SECONDS  # others are not punished


def test_the_overall_limit_caps_many_ips() -> None:
    limiter = QueryRateLimiter(rate=10.0, per_ip_rate=5.0, now=0.0)
    total = sum(allowed(limiter, f"127.0.1.{i}", 3, 0.0) for i in range(50))
    assert total == 10 * BURST_SECONDS
    assert allowed(limiter, "127.0.2.1", 3, 0.1) == 1


def test_a_quiet_ip_refills_only_up_to_the_burst() -> None:
    limiter = QueryRateLimiter(rate=1000.0, per_ip_rate=5.0, now=0.0)
    allowed(limiter, "127.0.0.2", 100, 0.0)
    assert allowed(limiter, "127.0.0.2", 100, 3600.0) == 5 * BURST_SECONDS
