import random

from app.engine.dht.peer_store import PeerStore

IH_A, IH_B, IH_C = b"a" * 20, b"b" * 20, b"c" * 20


def test_peers_are_kept_per_info_hash() -> None:
    store = PeerStore()
    store.add(IH_A, ("127.0.0.2", 1), 0.0)
    store.add(IH_A, ("127.0.0.3", 2), 0.0)
    store.add(IH_B, ("127.0.0.4", 3), 0.0)
    assert store.peers(IH_A, 1.0) == [("127.0.0.2", 1), ("127.0.0.3", 2)]
    assert store.peers(IH_C, 1.0) == []


def test_peers_expire_unless_they_announce_again() -> None:
    store = PeerStore(ttl=100.0)
    store.add(IH_A, ("127.0.0.2", 1), 0.0)
    store.add(IH_A, ("127.0.0.3", 2), 0.0)
    store.add(IH_A, ("127.0.0.3", 2), 50.0)
    assert store.peers(IH_A, 120.0) == [("127.0.0.3", 2)]
    store.expire(150.0)
    assert len(store) == 0


def test_each_info_hash_keeps_its_latest_announcers() -> None:
    store = PeerStore(max_peers=3)
    for port in range(1, 6):
        store.add(IH_A, ("127.0.0.2", port), float(port))
    assert sorted(store.peers(IH_A, 6.0)) == [("127.0.0.2", 3), ("127.0.0.2", 4), ("127.0.0.2", 5)]


def test_the_least_recently_announced_info_hash_goes_first() -> None:
    store = PeerStore(max_info_hashes=2)
    store.add(IH_A, ("127.0.0.2", 1), 0.0)
    store.add(IH_B, ("127.0.0.2", 1), 1.0)
    store.add(IH_A, ("127.0.0.2", 2), 2.0)
    store.add(IH_C, ("127.0.0.2", 1), 3.0)
    assert store.peers(IH_B, 4.0) == [] and len(store.peers(IH_A, 4.0)) == 2 and len(store) == 2


def test_a_reply_holds_a_random_sample_when_there_are_many() -> None:
    store = PeerStore(rng=random.Random(1))
    for port in range(1, 201):
        store.add(IH_A, ("127.0.0.2", port), 0.0)
    sample = store.peers(IH_A, 1.0, limit=50)
    assert len(set(sample)) == 50 and sample != [("127.0.0.2", p) for p in range(151, 201)]
