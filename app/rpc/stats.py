"""session-stats' totals across runs (RPC spec 4.2), kept in `stats.json` in the profile as
Transmission keeps its own: what earlier runs moved, plus this run's at any moment."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

STATS_FILE: Final = "stats.json"


@dataclass(frozen=True, slots=True)
class Totals:
    """A stats object; the field names are the spec's keys, so it goes to JSON as it is."""

    uploadedBytes: int = 0
    downloadedBytes: int = 0
    filesAdded: int = 0
    sessionCount: int = 0
    secondsActive: int = 0

    def plus(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(_values(self), _values(other))))

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def _values(totals: Totals) -> tuple[int, ...]:
    return tuple(getattr(totals, f.name) for f in fields(Totals))


def load_totals(profile: Path) -> Totals:
    """What earlier runs recorded; a missing or unreadable file counts as none (it is only statistics)."""
    try:
        saved = json.loads((profile / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Totals()
    return Totals(**{f.name: _count(saved, f.name) for f in fields(Totals)}) if isinstance(saved, dict) else Totals()


def _count(saved: dict[str, Any], key: str) -> int:
    value = saved.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def save_totals(profile: Path, totals: Totals) -> None:
    path = profile / STATS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(totals.as_json(), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
