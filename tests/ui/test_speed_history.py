from app.ui.speed_history import SpeedHistory, SpeedSample


def test_stores_only_changes():
    history = SpeedHistory(window=60)
    for now in (0.0, 1.0, 2.0):
        history.record("t", now, 100.0, 5.0)
    history.record("t", 3.0, 200.0, 5.0)
    assert history.samples("t", 4.0) == [
        SpeedSample(0.0, 100.0, 5.0),
        SpeedSample(3.0, 200.0, 5.0),
        SpeedSample(4.0, 200.0, 5.0),
    ]


def test_the_line_starts_at_the_window_edge():
    history = SpeedHistory(window=10)
    history.record("t", 0.0, 1.0, 0.0)
    history.record("t", 5.0, 2.0, 0.0)
    history.record("t", 15.0, 3.0, 0.0)
    assert history.samples("t", 20.0) == [
        SpeedSample(10.0, 2.0, 0.0),
        SpeedSample(15.0, 3.0, 0.0),
        SpeedSample(20.0, 3.0, 0.0),
    ]


def test_old_samples_are_dropped_and_forgotten_keys_are_empty():
    history = SpeedHistory(window=10)
    for now in range(100):
        history.record("t", float(now), float(now), 0.0)
    assert len(history.samples("t", 99.0)) <= 13
    history.forget("t")
    assert history.samples("t", 99.0) == []
