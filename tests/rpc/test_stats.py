"""app/rpc/stats.py: session-stats' totals add up across runs and survive a bad file."""

from __future__ import annotations

from pathlib import Path

from app.rpc.stats import STATS_FILE, Totals, load_totals, save_totals


def test_totals_add_field_by_field() -> None:
    assert Totals(1, 2, 3, 4, 5).plus(Totals(10, 20, 30, 1, 50)) == Totals(11, 22, 33, 5, 55)


def test_the_file_round_trips_and_a_bad_one_counts_as_nothing(tmp_path: Path) -> None:
    assert load_totals(tmp_path) == Totals()
    save_totals(tmp_path, Totals(uploadedBytes=7, sessionCount=2))
    assert load_totals(tmp_path) == Totals(uploadedBytes=7, sessionCount=2)
    (tmp_path / STATS_FILE).write_text('{"uploadedBytes": "lots", "sessionCount": -3, "filesAdded": 4}')
    assert load_totals(tmp_path) == Totals(filesAdded=4)
    (tmp_path / STATS_FILE).write_text("[")
    assert load_totals(tmp_path) == Totals()
