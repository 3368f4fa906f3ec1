"""app/rpc/torrent_ids.py: stable small ids, `ids` in every form the spec allows, recently-active."""

from __future__ import annotations

import pytest

from app.rpc.request import RpcError
from app.rpc.torrent_ids import RECENT_SECONDS, TorrentIds, parse_ids

A, B, C = "a" * 40, "b" * 40, "c" * 40


def make_ids() -> TorrentIds:
    ids = TorrentIds()
    for info_hash in (A, B, C):
        ids.id_for(info_hash)
    return ids


def test_ids_are_handed_out_in_order_and_never_reused() -> None:
    ids = make_ids()
    assert [ids.id_for(h) for h in (A, B, C)] == [1, 2, 3]
    ids.forget(B, now=0.0)
    assert ids.id_for("d" * 40) == 4
    assert ids.hash_for(2) is None


@pytest.mark.parametrize(
    ("value", "selected"),
    [
        (None, [A, B, C]),
        ([], [A, B, C]),
        (2, [B]),
        ([3, 1], [A, C]),
        ([B.upper()], [B]),
        ([1, C], [A, C]),
        ([99], []),
        (2.0, [B]),
    ],
)
def test_ids_select_by_number_hash_or_everything(value: object, selected: list[str]) -> None:
    assert make_ids().select(parse_ids(value), [A, B, C], now=0.0) == selected


@pytest.mark.parametrize("value", ["nope", [1, "short"], {"a": 1}, [True], [1.5], -1, [[1]]])
def test_ids_that_name_nothing_usable_are_refused(value: object) -> None:
    with pytest.raises(RpcError, match="torrent id"):
        parse_ids(value)


def test_recently_active_means_touched_within_a_minute_and_lists_removals() -> None:
    ids = make_ids()
    ids.touch(A, now=100.0)
    ids.touch(B, now=100.0 - RECENT_SECONDS - 1)
    ids.forget(C, now=100.0)
    assert ids.select(parse_ids("recently-active"), [A, B], now=100.0) == [A]
    assert ids.removed_since(100.0) == [3]
    assert ids.removed_since(100.0 + RECENT_SECONDS + 1) == []
