"""The bitfield: BEP 3's wire layout, high bit of the first byte first."""

from __future__ import annotations

import pytest

from app.engine.bitfield import Bitfield
from app.engine.errors import RemoteProtocolError


def one_by_one(length: int) -> Bitfield:
    bf = Bitfield(length)
    bf.update(range(length))
    return bf


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 15, 16, 17, 200_003])
def test_full_is_every_bit_set_and_no_spare_bit(length: int) -> None:
    bf = Bitfield.full(length)
    assert bf == one_by_one(length)
    assert bf.count == length and bf.is_complete()
    assert Bitfield.from_bytes(bf.to_bytes(), length) == bf  # spare bits clear: a valid wire bitfield


def test_full_then_discard_counts_down() -> None:
    bf = Bitfield.full(10)
    assert bf.discard(9) and not bf.discard(9)
    assert bf.count == 9 and not bf.is_complete()
    assert list(bf) == list(range(9))


def test_spare_bits_set_are_refused() -> None:
    with pytest.raises(RemoteProtocolError, match="spare bits"):
        Bitfield.from_bytes(b"\xff", 7)


def test_membership_of_anything_but_an_index_in_range_is_false() -> None:
    bf = Bitfield.full(9)
    assert 8 in bf and 0 in bf
    assert 9 not in bf and -1 not in bf and "3" not in bf and None not in bf and 3.0 not in bf


def test_update_counts_each_new_index_once_and_refuses_out_of_range() -> None:
    bf = Bitfield(20)
    bf.update([3, 3, 19, 0])
    assert bf.count == 3 and list(bf) == [0, 3, 19]
    with pytest.raises(IndexError):
        bf.update([20])
    with pytest.raises(IndexError):
        bf.update([-1])
