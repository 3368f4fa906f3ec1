"""BEP 16 bookkeeping from small tables: peers' bitfields as strings, one piece shown at a time."""

from __future__ import annotations

from app.engine.bitfield import Bitfield
from app.engine.super_seeding import SuperSeeder


def bits(text: str) -> Bitfield:
    field = Bitfield(len(text))
    for index, char in enumerate(text):
        if char == "1":
            field.add(index)
    return field


def counts(views: dict[str, Bitfield | None]) -> callable:
    return lambda piece: sum(1 for view in views.values() if view is not None and piece in view)


def test_each_peer_is_shown_one_piece_the_rarest_and_not_the_same_as_another():
    views = {"a": bits("0000"), "b": bits("0000"), "c": bits("1100")}
    seeder = SuperSeeder(4)
    shown = {peer: seeder.reveal(peer, views[peer], counts(views)) for peer in ("a", "b", "c")}
    assert shown == {"a": 2, "b": 3, "c": 2}  # c lacks only 2 and 3; 2 is the rarest and first
    assert seeder.shown == shown


def test_a_peer_sees_its_next_piece_only_when_another_peer_announces_its_piece():
    views = {"a": bits("0000"), "b": bits("0000")}
    seeder = SuperSeeder(4)
    assert seeder.reveal("a", views["a"], counts(views)) == 0
    assert seeder.reveal("b", views["b"], counts(views)) == 1
    views["a"].add(0)  # a downloaded its piece from us: nothing new for it, b still lacks 0
    assert seeder.peer_has("a", 0, views, counts(views)) == []
    views["b"].add(0)  # b got piece 0 from a: a passed it on
    assert seeder.peer_has("b", 0, views, counts(views)) == [("a", 2)]
    assert seeder.shown == {"a": 2, "b": 1}


def test_a_lone_peer_is_shown_the_next_piece_when_it_has_its_own():
    views = {"a": bits("000")}
    seeder = SuperSeeder(3)
    assert seeder.reveal("a", views["a"], counts(views)) == 0
    views["a"].add(0)
    assert seeder.peer_has("a", 0, views, counts(views)) == [("a", 1)]


def test_a_bitfield_that_holds_the_shown_piece_gets_another_and_a_complete_peer_none():
    seeder = SuperSeeder(3)
    assert seeder.reveal("a", None, lambda piece: 0) == 0
    assert seeder.view_known("a", bits("100"), lambda piece: 0) == 1
    assert seeder.view_known("a", bits("100"), lambda piece: 0) is None  # still lacks 1: keep it
    assert seeder.view_known("a", bits("111"), lambda piece: 0) is None
    assert "a" not in seeder.shown
    seeder.reveal("b", None, lambda piece: 0)
    seeder.peer_gone("b")
    assert seeder.shown == {}
