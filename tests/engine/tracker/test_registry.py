import random
import socket

from app.engine.tracker.registry import MAX_NUMWANT, SwarmPeer, SwarmRegistry
from app.engine.tracker.types import AnnounceEvent, ScrapeEntry

HASH = b"h" * 20
NONE, STARTED, COMPLETED, STOPPED = (
    AnnounceEvent.NONE,
    AnnounceEvent.STARTED,
    AnnounceEvent.COMPLETED,
    AnnounceEvent.STOPPED,
)


def peer(n: int, left: int = 100, ip: str = "127.0.0.1") -> SwarmPeer:
    return SwarmPeer(peer_id=b"%020d" % n, ip=ip, port=6000 + n, left=left)


def make_registry(ttl: float = 100.0) -> SwarmRegistry:
    return SwarmRegistry(peer_ttl=ttl, rng=random.Random(3))


def test_two_peers_see_each_other_but_never_themselves() -> None:
    registry = make_registry()
    alone, counts = registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    assert alone == [] and counts == ScrapeEntry(0, 1, 0)
    others, counts = registry.announce(HASH, peer(2, left=0), STARTED, 50, now=1.0)
    assert others == [peer(1)] and counts == ScrapeEntry(1, 1, 0)
    others, _ = registry.announce(HASH, peer(1), NONE, 50, now=2.0)
    assert others == [peer(2, left=0)]


def test_same_endpoint_under_another_id_is_not_returned() -> None:
    registry = make_registry()
    registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    again = SwarmPeer(b"x" * 20, "127.0.0.1", 6001, 100)
    others, _ = registry.announce(HASH, again, STARTED, 50, now=0.0)
    assert others == []


def test_stopped_removes_the_peer_and_an_update_replaces_it() -> None:
    registry = make_registry()
    registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    registry.announce(HASH, peer(1, ip="127.0.0.9"), NONE, 50, now=0.0)
    others, _ = registry.announce(HASH, peer(2), STARTED, 50, now=0.0)
    assert others == [peer(1, ip="127.0.0.9")]
    registry.announce(HASH, peer(1), STOPPED, 0, now=1.0)
    others, counts = registry.announce(HASH, peer(2), NONE, 50, now=2.0)
    assert others == [] and counts == ScrapeEntry(0, 1, 0)


def test_silent_peers_expire_after_the_ttl() -> None:
    registry = make_registry(ttl=100.0)
    registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    others, _ = registry.announce(HASH, peer(2), STARTED, 50, now=99.0)
    assert others == [peer(1)]
    others, _ = registry.announce(HASH, peer(2), NONE, 50, now=100.0)
    assert others == []


def test_completed_counts_downloads() -> None:
    registry = make_registry()
    registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    registry.announce(HASH, peer(1, left=0), COMPLETED, 50, now=1.0)
    assert registry.scrape([HASH], now=2.0) == {HASH: ScrapeEntry(1, 0, 1)}
    registry.announce(HASH, peer(1, left=0), STOPPED, 50, now=3.0)
    assert registry.scrape([], now=4.0) == {HASH: ScrapeEntry(0, 0, 1)}


def test_numwant_is_respected_and_capped() -> None:
    registry = make_registry()
    for n in range(MAX_NUMWANT + 10):
        registry.announce(HASH, peer(n), STARTED, 0, now=0.0)
    me = peer(10_000)
    assert len(registry.announce(HASH, me, NONE, 5, now=0.0)[0]) == 5
    assert len(registry.announce(HASH, me, NONE, 0, now=0.0)[0]) == 0
    assert len(registry.announce(HASH, me, NONE, -1, now=0.0)[0]) == 50
    assert len(registry.announce(HASH, me, NONE, 10_000, now=0.0)[0]) == MAX_NUMWANT


def test_family_filter_for_udp_answers() -> None:
    registry = make_registry()
    registry.announce(HASH, peer(1, ip="::1"), STARTED, 50, now=0.0)
    registry.announce(HASH, peer(2, ip="127.0.0.2"), STARTED, 50, now=0.0)
    v4, _ = registry.announce(HASH, peer(3), STARTED, 50, now=0.0, family=socket.AF_INET)
    v6, _ = registry.announce(HASH, peer(3), STARTED, 50, now=0.0, family=socket.AF_INET6)
    assert [p.ip for p in v4] == ["127.0.0.2"] and [p.ip for p in v6] == ["::1"]


def test_swarms_are_separate_and_unknown_ones_scrape_as_zero() -> None:
    registry = make_registry()
    registry.announce(HASH, peer(1), STARTED, 50, now=0.0)
    others, _ = registry.announce(b"o" * 20, peer(2), STARTED, 50, now=0.0)
    assert others == []
    assert registry.scrape([b"u" * 20], now=0.0) == {b"u" * 20: ScrapeEntry(0, 0, 0)}
