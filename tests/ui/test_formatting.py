from app.ui import formatting


def test_sizes_and_rates():
    assert formatting.size(512) == "512 B"
    assert formatting.size(1536) == "1.5 KiB"
    assert formatting.size(3 * 1024**3) == "3.0 GiB"
    assert formatting.rate(0.2) == ""
    assert formatting.rate_or_zero(0) == "0 B/s"
    assert formatting.rate(2 * 1024**2) == "2.0 MiB/s"


def test_progress_never_rounds_up_to_done():
    assert formatting.percent(0.9999) == "99.9%"
    assert formatting.percent(1.0) == "100.0%"


def test_times_and_counts():
    assert formatting.eta(None) == ""
    assert formatting.eta(3700) == "an hour"
    assert formatting.duration(None) == "∞"
    assert formatting.duration(65) == "1 minute and 5 seconds"
    assert formatting.count(1234567) == "1,234,567"
    assert formatting.count(None) == ""
    assert formatting.ratio(float("inf")) == "∞"
    assert formatting.pieces_text(1024, 256 * 1024) == "1,024 × 256.0 KiB"
