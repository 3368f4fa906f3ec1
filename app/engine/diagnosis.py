"""Why is it slow? Measurements of one torrent in, ranked causes in plain words out.

Pure: `Torrent.measurements()` gathers what the torrent and its session already know; the
rules below read only that. Each rule names one limit, with the number that shows it and
what the user can do. The table's order is the rank: a limit nearer the user (a pause, the
user's own speed limit, the disk) hides those further away (the swarm, the network).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from app.engine.snapshots import StopReason

SATURATED: Final = 0.8  # a rate at this share of its limit is held back by the limit
FEW_SOURCES: Final = 2  # this many peers with needed pieces, and nobody else known, is few
MOSTLY_CHOKED: Final = 0.5  # the share of interesting peers that choke us, above which we say so
REACH_GRACE: Final = 30 * 60.0  # seconds without an incoming connection before we blame reachability


class CauseKind(StrEnum):
    STOPPED = "stopped"
    QUEUED = "queued"
    TORRENT_LIMIT = "torrent limit"
    SESSION_LIMIT = "session limit"
    DISK = "disk"
    NO_SOURCES = "no sources"
    CHOKED = "choked"
    FEW_SOURCES = "few sources"
    CONNECTION_LIMIT = "connection limit"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class Cause:
    """One limit on the speed, in plain words."""

    kind: CauseKind
    sentence: str  # what limits the speed: "Your download limit for this torrent is reached"
    number_text: str  # the measurement that shows it: "98 KiB/s of 100 KiB/s"
    advice: str  # what the user can do about it

    @property
    def short(self) -> str:
        """One line for a status tooltip or the CLI's progress line."""
        return f"{self.sentence} ({self.number_text})" if self.number_text else self.sentence


@dataclass(frozen=True, slots=True)
class Reach:
    """The session's proof that peers can reach us; `uptime` None: not known (no session)."""

    incoming_connections: int = 0
    port_mapped: bool = False
    uptime: float | None = None  # seconds since the session started listening


@dataclass(frozen=True, slots=True)
class Measurements:
    """What one torrent and its session know right now (rates in bytes/s, limits 0: none)."""

    downloading: bool  # running and wanting pieces
    reason: StopReason | None = None  # why it is stopped; None while it runs
    down_rate: float = 0.0
    torrent_down_limit: int = 0
    session_down_limit: int = 0
    up_limit: int = 0  # the tighter of the torrent's and the session's upload limits, 0: none
    peers: int = 0  # connected
    peers_with_needed: int = 0  # connected peers that have a piece we still want
    known_peers: int = 0  # addresses known but not connected
    needed_pieces: int = 0  # wanted pieces not verified yet
    available_pieces: int = 0  # of those, the ones some connected peer has
    choked_by: int = 0  # peers we are interested in that choke us
    interested_in: int = 0  # peers that have pieces we want
    unwritten: int = 0  # received bytes waiting for the disk
    unwritten_cap: int = 0
    disk_behind: bool = False  # reading from peers is paused until the disk catches up
    trackers: int = 0
    trackers_working: int = 0
    tracker_message: str = ""  # the latest failure, "" if none
    dht: bool = False
    max_peers: int = 0  # the torrent's connection limit
    session_full: bool = False  # the session's connection limits allow no new connection
    reach: Reach = Reach()

    @property
    def availability(self) -> float:
        """The share of the needed pieces that connected peers have (1.0: all of them)."""
        return self.available_pieces / self.needed_pieces if self.needed_pieces else 1.0


Rule = Callable[[Measurements], Cause | None]


def _size(rate: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if rate < 1024:
            return f"{rate:.0f} {unit}"
        rate /= 1024
    return f"{rate:.1f} GiB"


def _stopped(m: Measurements) -> Cause | None:
    if m.reason is None or m.reason == StopReason.QUEUED:
        return None
    return Cause(CauseKind.STOPPED, f"The torrent is stopped: {m.reason.value.lower()}", "",
                 "Resume it when you want it to run")


def _queued(m: Measurements) -> Cause | None:
    if m.reason != StopReason.QUEUED:
        return None
    return Cause(CauseKind.QUEUED, "The torrent waits in the queue", "",
                 "Raise the number of active downloads, or move it up the queue")


def _limit_cause(kind: CauseKind, whose: str, rate: float, limit: int, advice: str) -> Cause | None:
    if not limit or rate < SATURATED * limit:
        return None
    return Cause(kind, f"{whose} download limit is reached", f"{_size(rate)}/s of {_size(limit)}/s", advice)


def _torrent_limit(m: Measurements) -> Cause | None:
    if not m.downloading or (m.session_down_limit and m.session_down_limit < m.torrent_down_limit):
        return None
    return _limit_cause(CauseKind.TORRENT_LIMIT, "This torrent's", m.down_rate, m.torrent_down_limit,
                        "Raise or remove the torrent's download limit")


def _session_limit(m: Measurements) -> Cause | None:
    if not m.downloading:
        return None
    return _limit_cause(CauseKind.SESSION_LIMIT, "Your global", m.down_rate, m.session_down_limit,
                        "Raise or remove the global download limit (or turn off the alternative speeds)")


def _disk(m: Measurements) -> Cause | None:
    if not m.downloading or not (m.disk_behind or (m.unwritten_cap and m.unwritten >= m.unwritten_cap)):
        return None
    unwritten = f"{_size(m.unwritten)} unwritten of {_size(m.unwritten_cap)}"
    return Cause(CauseKind.DISK, "The disk cannot keep up", unwritten, "Save to a faster disk, or close programs that use it")


def _no_sources(m: Measurements) -> Cause | None:
    if not m.downloading or m.peers or m.known_peers:
        return None
    tracker = m.tracker_message or ("no tracker" if not m.trackers else "no tracker answered yet")
    dht = "DHT is on" if m.dht else "DHT is off"
    advice = "Wait for the DHT to find peers, or add a working tracker" if m.dht else \
        "Turn on the DHT, or add a working tracker"
    return Cause(CauseKind.NO_SOURCES, "No peers are known", f"{tracker}; {dht}", advice)


def _choked(m: Measurements) -> Cause | None:
    if not m.downloading or not m.interested_in or m.choked_by <= MOSTLY_CHOKED * m.interested_in:
        return None
    advice = "Upload more: raise or remove your upload limit" if m.up_limit else \
        "Upload more: peers serve those who serve them"
    return Cause(CauseKind.CHOKED, "Most peers refuse to send to us: they choke us",
                 f"{m.choked_by} of {m.interested_in} peers", advice)


def _few_sources(m: Measurements) -> Cause | None:
    if not m.downloading or not m.peers or m.known_peers or m.peers_with_needed > FEW_SOURCES:
        return None
    plural = "peer has" if m.peers_with_needed == 1 else "peers have"
    return Cause(CauseKind.FEW_SOURCES,
                 f"Only {m.peers_with_needed} connected {plural} the pieces still needed, and nobody else is known",
                 f"availability {m.availability:.1f}",
                 "Wait for more peers, or add trackers; turn on the DHT if it is off")


def _connection_limit(m: Measurements) -> Cause | None:
    torrent_full = bool(m.max_peers) and m.peers >= m.max_peers
    if not m.downloading or not m.known_peers or not (torrent_full or m.session_full):
        return None
    whose = "this torrent's" if torrent_full else "the global"
    return Cause(CauseKind.CONNECTION_LIMIT, f"Connection limit reached ({whose})",
                 f"{m.peers} connected, {m.known_peers} more known", "Raise the connection limits")


def _unreachable(m: Measurements) -> Cause | None:
    reach = m.reach
    if not m.downloading or reach.uptime is None or reach.uptime < REACH_GRACE:
        return None
    if reach.incoming_connections or reach.port_mapped:
        return None
    return Cause(CauseKind.UNREACHABLE, "Nobody can connect to us",
                 f"no incoming connection in {reach.uptime / 60:.0f} minutes, no port mapping",
                 "Forward the listening port on your router, or turn on port mapping")


# The rank: the first that applies is the one the user sees in the status tooltip.
RULES: Final[tuple[Rule, ...]] = (
    _stopped, _queued, _torrent_limit, _session_limit, _disk, _no_sources, _choked, _few_sources,
    _connection_limit, _unreachable,
)


def diagnose(measurements: Measurements) -> tuple[Cause, ...]:
    """Every cause that applies, the strongest first."""
    return tuple(cause for rule in RULES if (cause := rule(measurements)) is not None)
