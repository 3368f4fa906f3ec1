"""What crosses the tracker layer: announce requests and answers, scrape counts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AnnounceEvent(StrEnum):
    """BEP 3: the `event` parameter; NONE is a regular, periodic announce."""

    NONE = ""
    STARTED = "started"
    COMPLETED = "completed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class AnnounceRequest:
    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: AnnounceEvent = AnnounceEvent.NONE
    numwant: int = 50
    key: int = 0
    tracker_id: bytes | None = None


@dataclass(frozen=True, slots=True)
class AnnounceResponse:
    interval: int
    min_interval: int | None
    peers: tuple[tuple[str, int], ...]  # (host, port), IPv4 and IPv6
    complete: int | None
    incomplete: int | None
    warning: str
    tracker_id: bytes | None


@dataclass(frozen=True, slots=True)
class ScrapeEntry:
    complete: int
    incomplete: int
    downloaded: int
