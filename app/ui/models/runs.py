"""Group row numbers into contiguous runs, so a model emits one signal per run, not per row."""

from __future__ import annotations

from collections.abc import Iterable


def contiguous_runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, inclusive (first, last) pairs: [5, 1, 2, 3] -> [(1, 3), (5, 5)]."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
