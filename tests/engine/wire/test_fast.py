"""BEP 6 allowed fast set, checked against the example the BEP publishes."""

import pytest

from app.engine.wire.fast import ALLOWED_FAST_SET_SIZE, allowed_fast_set, offered_fast_set

BEP_HASH = bytes([0xAA]) * 20
BEP_SEVEN = (1059, 431, 808, 1217, 287, 376, 1188)


def test_the_bep_example_with_seven_pieces() -> None:
    assert allowed_fast_set("80.4.4.200", BEP_HASH, 1313, 7) == BEP_SEVEN


def test_the_bep_example_with_nine_pieces_adds_two_to_the_seven() -> None:
    assert allowed_fast_set("80.4.4.200", BEP_HASH, 1313, 9) == BEP_SEVEN + (353, 508)


@pytest.mark.parametrize("host", ["80.4.4.1", "80.4.4.255", "::ffff:80.4.4.200"])
def test_the_whole_slash_24_shares_one_set(host: str) -> None:
    assert allowed_fast_set(host, BEP_HASH, 1313, 7) == BEP_SEVEN


def test_another_network_or_torrent_gets_another_set() -> None:
    assert allowed_fast_set("80.4.5.200", BEP_HASH, 1313, 7) != BEP_SEVEN
    assert allowed_fast_set("80.4.4.200", bytes(20), 1313, 7) != BEP_SEVEN


@pytest.mark.parametrize("host", ["::1", "2001:db8::5", "not an address"])
def test_ipv6_and_garbage_hosts_have_no_set(host: str) -> None:
    assert allowed_fast_set(host, BEP_HASH, 1313, 7) == ()


def test_k_is_capped_at_the_piece_count_and_indices_are_distinct() -> None:
    assert sorted(allowed_fast_set("10.0.0.1", BEP_HASH, 3, 10)) == [0, 1, 2]
    many = allowed_fast_set("10.0.0.1", BEP_HASH, 50, 40)
    assert len(set(many)) == 40 and all(0 <= i < 50 for i in many)


def test_we_offer_k_pieces_only_when_they_are_a_small_part_of_the_torrent() -> None:
    assert offered_fast_set("80.4.4.200", BEP_HASH, 1313) == allowed_fast_set(
        "80.4.4.200", BEP_HASH, 1313, ALLOWED_FAST_SET_SIZE
    )
    assert len(offered_fast_set("80.4.4.200", BEP_HASH, 40)) == ALLOWED_FAST_SET_SIZE
    assert offered_fast_set("80.4.4.200", BEP_HASH, 39) == ()
    assert offered_fast_set("::1", BEP_HASH, 1313) == ()
