"""The piece picker, from small tables in the style of libtorrent's test_piece_picker.

`setup_picker("3231", have="1000", priority="1121")` builds a picker over four pieces:
one digit per piece for how many peers have it, which pieces we verified, and priorities.
Pieces are four blocks long unless a test says otherwise.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from app.engine.bitfield import Bitfield
from app.engine.piece_picker import BLOCK_SIZE, MAX_REQUESTERS, Block, PiecePicker
from app.engine.snapshots import PieceState

BS = BLOCK_SIZE
BLOCKS = 4


def bits(pattern: str) -> Bitfield:
    """A bitfield from a pattern: "1011" has pieces 0, 2 and 3."""
    bf = Bitfield(len(pattern))
    bf.update(i for i, c in enumerate(pattern) if c == "1")
    return bf


def setup_picker(
    availability: str, have: str = "", priority: str = "", *, seed: int = 0
) -> PiecePicker:
    n = len(availability)
    picker = PiecePicker(n, BLOCKS * BS, n * BLOCKS * BS, rng=random.Random(seed))
    for level in range(1, 10):
        holders = "".join("1" if int(c) >= level else "0" for c in availability)
        if "1" in holders:
            picker.peer_joined(bits(holders))
    for piece, c in enumerate(have):
        if c == "1":
            picker.mark_have(piece)
    if priority:
        picker.set_priorities([int(c) for c in priority])
    return picker


def full(n: int) -> Bitfield:
    return Bitfield.full(n)


def pieces_of(blocks: list[Block]) -> list[int]:
    return sorted({b.piece for b in blocks})


def receive_all(picker: PiecePicker, peer: str, blocks: list[Block]) -> None:
    for block in blocks:
        accepted, others, complete = picker.block_received(peer, block)
        assert (accepted, others) == (True, [])
        assert complete == (picker.piece_state(block.piece) == PieceState.WRITING)


# -- rarest first ---------------------------------------------------------------------------


def test_rarest_piece_is_picked_first() -> None:
    picker = setup_picker("3231333")
    assert pieces_of(picker.pick("a", full(7), BLOCKS)) == [3]
    assert pieces_of(picker.pick("a", full(7), BLOCKS)) == [1]


def test_pieces_come_in_order_of_availability() -> None:
    picker = setup_picker("41523")
    order = [picker.pick("a", full(5), BLOCKS)[0].piece for _ in range(5)]
    assert order == [1, 3, 4, 0, 2]
    assert picker.pick("a", full(5), BLOCKS) == []


def test_have_moves_a_piece_out_of_the_rarest_place() -> None:
    picker = setup_picker("2122")
    picker.peer_has(1)
    picker.peer_has(1)
    assert picker.availability(1) == 3
    assert pieces_of(picker.pick("a", full(4), BLOCKS)) in ([0], [2], [3])


def test_ties_break_at_random() -> None:
    firsts = Counter(
        setup_picker("2223333", seed=seed).pick("a", full(7), 1)[0].piece for seed in range(300)
    )
    assert set(firsts) == {0, 1, 2}
    assert all(70 <= n <= 130 for n in firsts.values()), firsts


def test_only_pieces_the_peer_has_are_picked() -> None:
    picker = setup_picker("1222")
    assert pieces_of(picker.pick("a", bits("0011"), 2 * BLOCKS)) == [2, 3]
    assert picker.pick("a", bits("0011"), 1) == []


def test_verified_pieces_are_not_picked() -> None:
    picker = setup_picker("1111", have="1101")
    assert pieces_of(picker.pick("a", full(4), 4 * BLOCKS)) == [2]


# -- partial pieces first --------------------------------------------------------------------


def test_a_started_piece_is_finished_before_a_new_one() -> None:
    picker = setup_picker("1111")
    first = picker.pick("a", full(4), 2)
    taken = picker.pick("b", full(4), 4)
    assert [b.piece for b in taken[:2]] == [first[0].piece] * 2
    assert taken[2].piece != first[0].piece
    assert {b.offset for b in first + taken[:2]} == {0, BS, 2 * BS, 3 * BS}


def test_a_peer_goes_on_with_its_own_piece() -> None:
    picker = setup_picker("1111")
    own = picker.pick("a", full(4), 2)
    other = picker.pick("b", full(4), 4)[2:]  # finishes a's piece, starts another
    picker.abort("a", own[0])  # a's piece has a free block again, opened after b's
    assert picker.pick("a", full(4), 1) == [own[0]]
    assert picker.pick("c", full(4), 1)[0].piece == other[0].piece


def test_a_partial_piece_the_peer_lacks_does_not_block_it() -> None:
    picker = setup_picker("0000")
    picker.peer_joined(bits("1000"))
    picker.peer_joined(bits("0111"))
    started = picker.pick("rare", bits("1000"), 1)
    assert pieces_of(started) == [0]
    assert pieces_of(picker.pick("a", bits("0111"), BLOCKS)) in ([1], [2], [3])


def test_a_peer_with_nothing_to_give_gets_blocks_again_when_some_return() -> None:
    picker = setup_picker("21")
    taken = picker.pick("a", bits("10"), BLOCKS)
    assert picker.pick("b", bits("10"), BLOCKS) == []
    picker.abort("a", taken[1])
    assert picker.pick("b", bits("10"), BLOCKS) == [taken[1]]


def test_a_peer_with_nothing_to_give_gets_blocks_again_when_it_has_more() -> None:
    picker = setup_picker("21")
    picker.pick("a", bits("10"), BLOCKS)
    b_has = bits("10")
    assert picker.pick("b", b_has, BLOCKS) == []
    b_has.add(1)
    picker.peer_has(1)
    assert pieces_of(picker.pick("b", b_has, BLOCKS)) == [1]


def test_a_peer_with_nothing_to_give_gets_blocks_again_when_a_piece_fails() -> None:
    picker = setup_picker("21")
    receive_all(picker, "a", picker.pick("a", bits("10"), BLOCKS))
    assert picker.pick("b", bits("10"), BLOCKS) == []
    picker.piece_failed(0)
    assert pieces_of(picker.pick("b", bits("10"), BLOCKS)) == [0]


def test_a_peer_with_nothing_to_give_gets_blocks_again_when_priorities_change() -> None:
    picker = setup_picker("22", priority="10")
    receive_all(picker, "a", picker.pick("a", bits("11"), BLOCKS))
    assert picker.pick("b", bits("11"), BLOCKS) == []
    picker.set_priorities([1, 1])
    assert pieces_of(picker.pick("b", bits("11"), BLOCKS)) == [1]


def test_new_piece_blocks_come_lowest_offset_first() -> None:
    picker = setup_picker("1")
    assert [b.offset for b in picker.pick("a", full(1), BLOCKS)] == [0, BS, 2 * BS, 3 * BS]


# -- priorities ------------------------------------------------------------------------------


def test_high_priority_beats_rarity() -> None:
    picker = setup_picker("3331", priority="1211")
    assert pieces_of(picker.pick("a", full(4), BLOCKS)) == [1]
    assert pieces_of(picker.pick("a", full(4), BLOCKS)) == [3]


def test_priority_zero_is_never_picked() -> None:
    picker = setup_picker("1111", priority="0101")
    assert pieces_of(picker.pick("a", full(4), 4 * BLOCKS)) == [1, 3]
    assert not picker.interesting(bits("1010"))
    assert picker.wanted_left == 2 * BLOCKS * BS


def test_skipping_a_started_piece_stops_its_requests() -> None:
    picker = setup_picker("11")
    started = picker.pick("a", full(2), 1)
    skipped = started[0].piece
    priorities = [1, 1]
    priorities[skipped] = 0
    picker.set_priorities(priorities)
    assert pieces_of(picker.pick("a", full(2), 2 * BLOCKS)) == [1 - skipped]
    priorities[skipped] = 1
    picker.set_priorities(priorities)
    assert [b.offset for b in picker.pick("a", full(2), BLOCKS)] == [BS, 2 * BS, 3 * BS]


def test_bad_priorities_are_refused() -> None:
    picker = setup_picker("11")
    with pytest.raises(ValueError):
        picker.set_priorities([1])
    with pytest.raises(ValueError):
        picker.set_priorities([1, 3])


def test_completion_counts_only_wanted_pieces() -> None:
    picker = setup_picker("111", priority="101")
    assert not picker.is_complete()
    picker.piece_verified(0)
    assert picker.wanted_left == BLOCKS * BS
    picker.piece_verified(2)
    assert picker.is_complete()
    assert picker.wanted_left == 0


# -- endgame ---------------------------------------------------------------------------------


def test_endgame_duplicates_requests_and_names_the_peers_to_cancel() -> None:
    picker = setup_picker("4")
    original = picker.pick("a", full(1), BLOCKS)
    assert picker.in_endgame
    assert sorted(picker.pick("b", full(1), BLOCKS), key=lambda b: b.offset) == original
    assert len(picker.pick("c", full(1), BLOCKS)) == BLOCKS
    assert picker.pick("d", full(1), BLOCKS) == []  # MAX_REQUESTERS peers per block
    ok, others, _ = picker.block_received("b", original[0])
    assert ok and set(others) == {"a", "c"}
    assert picker.block_received("a", original[0]) == (False, [], False)
    picker.abort("a", original[1])
    assert picker.pick("d", full(1), BLOCKS) == [original[1]]


def test_endgame_prefers_blocks_with_fewest_requesters() -> None:
    picker = setup_picker("3")
    first = picker.pick("a", full(1), BLOCKS)
    picker.pick("b", full(1), 2)
    assert picker.pick("c", full(1), 2) == first[2:]


def test_endgame_waits_until_no_block_is_left_in_the_pool() -> None:
    picker = setup_picker("21")
    picker.pick("a", bits("10"), BLOCKS)
    assert not picker.in_endgame
    assert picker.pick("b", bits("10"), BLOCKS) == []


def test_endgame_ends_when_a_block_returns_to_the_pool() -> None:
    picker = setup_picker("3")
    blocks = picker.pick("a", full(1), BLOCKS)
    picker.pick("b", full(1), 1)
    picker.abort("a", blocks[0])
    assert picker.in_endgame  # still requested from b
    picker.abort("b", blocks[0])
    assert not picker.in_endgame
    assert picker.pick("c", full(1), 1) == [blocks[0]]
    assert picker.in_endgame


def count_duplicate_scans(picker: PiecePicker) -> list[int]:
    """Counts the endgame's walks over the blocks in flight (one per requester-count level)."""
    scans = [0]
    walk = picker._duplicable

    def counted(*args: object) -> object:
        scans[0] += 1
        return walk(*args)  # type: ignore[arg-type]

    picker._duplicable = counted  # type: ignore[method-assign]
    return scans


def test_endgame_peer_with_nothing_to_duplicate_is_not_rescanned() -> None:
    picker = setup_picker("22")
    assert len(picker.pick("a", full(2), 2 * BLOCKS)) == 2 * BLOCKS  # every block in flight, all from a
    scans = count_duplicate_scans(picker)
    assert picker.pick("a", full(2), BLOCKS) == []
    walked = scans[0]
    for _ in range(5):  # a's pipeline refilling after each block: nothing has changed
        assert picker.pick("a", full(2), BLOCKS) == []
    assert scans[0] == walked > 0


def test_endgame_peer_found_dry_duplicates_again_when_a_block_frees_up() -> None:
    picker = setup_picker("22")
    mine = picker.pick("a", full(2), 2 * BLOCKS)
    assert picker.pick("a", full(2), BLOCKS) == []
    theirs = picker.pick("b", full(2), 1)  # b duplicates one of a's blocks
    picker.abort("a", theirs[0])  # a gives it up: b alone has it now
    assert picker.pick("a", full(2), BLOCKS) == theirs
    assert set(picker.pick("c", full(2), 2 * BLOCKS)) == set(mine)  # c may take any


def test_max_requesters_is_a_few() -> None:
    assert 2 <= MAX_REQUESTERS <= 4


# -- returning blocks ------------------------------------------------------------------------


def test_peer_gone_returns_its_blocks_to_the_pool() -> None:
    picker = setup_picker("2")
    blocks = picker.pick("a", full(1), 3)
    picker.peer_gone("a")
    assert picker.piece_state(0) == PieceState.MISSING
    assert picker.pick("b", full(1), 3) == blocks
    assert picker.block_received("a", blocks[0]) == (True, ["b"], False)  # late, but b asked for it
    assert picker.block_received("b", blocks[0]) == (False, [], False)


def test_peer_gone_in_endgame_leaves_the_other_requesters() -> None:
    picker = setup_picker("2")
    blocks = picker.pick("a", full(1), BLOCKS)
    picker.pick("b", full(1), BLOCKS)
    picker.peer_gone("a")
    assert picker.in_endgame
    assert picker.block_received("b", blocks[0]) == (True, [], False)


def test_abort_of_a_block_not_requested_by_that_peer_changes_nothing() -> None:
    picker = setup_picker("2")
    blocks = picker.pick("a", full(1), 1)
    picker.abort("b", blocks[0])
    assert picker.block_received("a", blocks[0]) == (True, [], False)


# -- received blocks -------------------------------------------------------------------------


def test_unsolicited_and_duplicate_blocks_are_refused() -> None:
    picker = setup_picker("1")
    assert picker.block_received("a", Block(0, 0, BS)) == (False, [], False)
    block = picker.pick("a", full(1), 1)[0]
    assert picker.block_received("a", Block(0, 1, BS)) == (False, [], False)  # not on a boundary
    assert picker.block_received("a", Block(0, 0, BS - 1)) == (False, [], False)  # wrong length
    assert picker.block_received("a", Block(0, BS * BLOCKS, BS)) == (False, [], False)
    assert picker.block_received("a", block) == (True, [], False)
    assert picker.block_received("a", block) == (False, [], False)
    assert picker.piece_state(0) == PieceState.REQUESTED


def test_block_received_says_when_the_last_block_of_its_piece_arrives() -> None:
    # Three pieces, the last one block and a half long: its short block completes it too.
    picker = PiecePicker(3, BLOCKS * BS, 2 * BLOCKS * BS + BS + BS // 2, rng=random.Random(0))
    picker.peer_joined(full(3))
    blocks = sorted(picker.pick("a", full(3), 3 * BLOCKS), key=lambda b: (b.piece, b.offset))
    assert blocks[-1] == Block(2, BS, BS // 2)
    results = [picker.block_received("a", block)[2] for block in blocks]
    assert results == [False, False, False, True] * 2 + [False, True]
    assert picker.block_received("a", blocks[-1]) == (False, [], False)  # a duplicate completes nothing


def test_an_endgame_duplicate_completes_the_piece_once() -> None:
    picker = setup_picker("2")
    blocks = picker.pick("a", full(1), BLOCKS)
    picker.pick("b", full(1), BLOCKS)
    for block in blocks[:-1]:
        assert picker.block_received("b", block) == (True, ["a"], False)
    assert picker.block_received("a", blocks[-1]) == (True, ["b"], True)
    assert picker.block_received("b", blocks[-1]) == (False, [], False)


def test_blocks_are_plain_immutable_values() -> None:
    picker = setup_picker("1")
    block = picker.pick("a", full(1), 1)[0]
    assert block == Block(0, 0, BS) and hash(block) == hash(Block(0, 0, BS))
    assert (block.piece, block.offset, block.length) == (0, 0, BS)
    with pytest.raises(AttributeError):
        block.piece = 1  # type: ignore[misc]


def test_piece_state_follows_a_piece_through_its_life() -> None:
    picker = setup_picker("1")
    assert picker.piece_state(0) == PieceState.MISSING
    blocks = picker.pick("a", full(1), BLOCKS)
    assert picker.piece_state(0) == PieceState.REQUESTED
    receive_all(picker, "a", blocks)
    assert picker.piece_state(0) == PieceState.WRITING
    picker.piece_verified(0)
    assert picker.piece_state(0) == PieceState.VERIFIED
    assert picker.is_complete()
    assert 0 in picker.have


def test_piece_state_of_checked_and_failed_pieces() -> None:
    picker = setup_picker("11", have="10")
    assert picker.piece_state(0) == PieceState.VERIFIED  # found good by the check, never started
    receive_all(picker, "a", picker.pick("a", full(2), BLOCKS))
    picker.piece_failed(1)
    assert picker.piece_state(1) == PieceState.MISSING


def test_states_bytes_has_one_state_per_piece() -> None:
    picker = setup_picker("1111111111", have="1000000001")
    picker.peer_joined(bits("0110000000"))
    picker.pick("a", bits("0100000000"), 1)
    receive_all(picker, "a", picker.pick("a", bits("0010000000"), BLOCKS))
    assert picker.states_bytes() == bytes([3, 1, 2, 0, 0, 0, 0, 0, 0, 3])


def test_failed_piece_blames_its_senders_and_is_wanted_again() -> None:
    picker = setup_picker("2")
    from_a = picker.pick("a", full(1), 2)
    from_b = picker.pick("b", full(1), 2)
    receive_all(picker, "a", from_a)
    receive_all(picker, "b", from_b)
    assert picker.piece_failed(0) == {"a", "b"}
    assert picker.piece_state(0) == PieceState.MISSING
    assert picker.piece_failed(0) == set()
    assert picker.pick("c", full(1), BLOCKS) == from_a + from_b


def test_a_late_block_of_a_failed_piece_is_refused() -> None:
    picker = setup_picker("2")
    blocks = picker.pick("a", full(1), BLOCKS)
    picker.piece_failed(0)
    assert picker.block_received("a", blocks[0]) == (False, [], False)
    assert len(picker.pick("a", full(1), BLOCKS)) == BLOCKS


# -- sizes -----------------------------------------------------------------------------------


def test_last_piece_and_last_block_are_short() -> None:
    total = 2 * 3 * BS + BS + 100
    picker = PiecePicker(3, 3 * BS, total, rng=random.Random(0))
    blocks = picker.pick("a", full(3), 100)
    last = sorted((b.offset, b.length) for b in blocks if b.piece == 2)
    assert last == [(0, BS), (BS, 100)]
    assert sum(b.length for b in blocks) == total
    assert picker.wanted_left == total


def test_pieces_smaller_than_a_block() -> None:
    picker = PiecePicker(3, 8192, 2 * 8192 + 1, rng=random.Random(0))
    blocks = picker.pick("a", full(3), 10)
    assert sorted((b.piece, b.offset, b.length) for b in blocks) == [
        (0, 0, 8192),
        (1, 0, 8192),
        (2, 0, 1),
    ]


def test_lengths_that_do_not_fill_the_pieces_are_refused() -> None:
    with pytest.raises(ValueError):
        PiecePicker(3, BS, 2 * BS)
    with pytest.raises(ValueError):
        PiecePicker(3, BS, 3 * BS + 1)


# -- availability ----------------------------------------------------------------------------


def test_availability_counts_joins_haves_and_leaves() -> None:
    picker = setup_picker("0000")
    partial = bits("0110")
    picker.peer_joined(partial)
    picker.peer_joined(full(4))
    picker.peer_has(0)
    assert [picker.availability(i) for i in range(4)] == [2, 2, 2, 1]
    picker.peer_left(partial)
    assert picker.availability_bytes() == bytes([2, 1, 1, 1])


def test_a_peer_that_became_a_seed_can_leave_as_one() -> None:
    picker = setup_picker("0000")
    grown = bits("0110")
    picker.peer_joined(grown)
    picker.peer_joined(full(4))
    for piece in (0, 3):
        picker.peer_has(piece)
        grown.add(piece)
    picker.peer_left(grown)
    assert [picker.availability(i) for i in range(4)] == [1, 1, 1, 1]
    picker.peer_left(full(4))
    assert [picker.availability(i) for i in range(4)] == [0, 0, 0, 0]


def test_losing_a_peer_nobody_counted_is_refused() -> None:
    picker = setup_picker("01")
    with pytest.raises(ValueError):
        picker.peer_left(bits("10"))


def test_availability_bytes_are_capped() -> None:
    picker = setup_picker("12")
    for _ in range(300):
        picker.peer_joined(full(2))
    assert picker.availability(0) == 301
    assert picker.availability_bytes() == bytes([255, 255])


def test_interesting_means_a_wanted_piece_we_lack() -> None:
    picker = setup_picker("1111", have="1100", priority="1110")
    assert not picker.interesting(bits("0000"))
    assert not picker.interesting(bits("1101"))
    assert picker.interesting(bits("0010"))
    assert picker.interesting(full(4))
    picker.piece_verified(2)
    assert not picker.interesting(full(4))
    assert picker.wants(3) is False and picker.wants(2) is False


def test_interesting_looks_at_started_pieces_too() -> None:
    picker = setup_picker("1111111111", have="0111111110")
    picker.pick("a", bits("1000000000"), 1)
    assert picker.interesting(bits("1111111110"))
    assert not picker.interesting(bits("0111111110"))


class CountingBitfield(Bitfield):
    """Counts the walks over its pieces: `interesting` should need none when every piece is wanted."""

    walks = 0

    def __iter__(self) -> Iterator[int]:
        CountingBitfield.walks += 1
        return super().__iter__()


@pytest.mark.parametrize("seed", range(30))
def test_interesting_agrees_with_asking_piece_by_piece(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(1, 40)
    priority = "".join(rng.choice("12" if seed % 2 else "0112") for _ in range(n))
    picker = setup_picker("1" * n, have="".join(rng.choice("011") for _ in range(n)), priority=priority)
    peer = bits("".join(rng.choice("01") for _ in range(n)))
    assert picker.interesting(peer) == any(picker.wants(piece) for piece in range(n) if piece in peer)


def test_interesting_walks_no_piece_when_every_piece_is_wanted() -> None:
    n = 200_000
    picker = PiecePicker(n, BS, n * BS, rng=random.Random(0))
    for piece in range(n // 2):
        picker.mark_have(piece)
    peer = CountingBitfield(n)
    peer.update(range(n // 4))  # pieces we have
    CountingBitfield.walks = 0
    assert not picker.interesting(peer)
    peer.add(n - 1)  # and one we lack
    assert picker.interesting(peer)
    assert CountingBitfield.walks == 0


def available_missing_one_by_one(picker: PiecePicker, n: int) -> int:
    return sum(1 for piece in range(n) if picker.wants(piece) and picker.availability(piece))


@pytest.mark.parametrize("seed", range(20))
def test_available_missing_counts_wanted_unverified_pieces_some_peer_has(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(1, 40)
    picker = setup_picker("".join(rng.choice("0012") for _ in range(n)),
                          have="".join(rng.choice("001") for _ in range(n)),
                          priority="".join(rng.choice("0112") for _ in range(n)))
    assert picker.available_missing() == available_missing_one_by_one(picker, n)
    picker.peer_joined(full(n))  # a seed: every missing wanted piece is available
    assert picker.available_missing() == picker.missing


def test_available_missing_from_a_table() -> None:
    picker = setup_picker("3011221", have="1000001", priority="1111011")
    assert picker.available_missing() == 3  # 2, 3 and 5: 0 and 6 are had, nobody has 1, 4 is skipped


def test_a_new_picker_holds_every_piece_unstarted() -> None:
    picker = PiecePicker(5, BS, 5 * BS, rng=random.Random(0))
    picker.peer_joined(bits("01101"))
    assert pieces_of(picker.pick("a", bits("01101"), 5)) == [1, 2, 4]
    picker.peer_joined(full(5))
    assert pieces_of(picker.pick("b", full(5), 2)) == [0, 3]
    assert picker.in_endgame


# -- sequential ------------------------------------------------------------------------------


def started_in_order(picker: PiecePicker, peer: str, pieces: Bitfield, count: int) -> list[int]:
    """The pieces started, one whole piece per pick."""
    return [picker.pick(peer, pieces, BLOCKS)[0].piece for _ in range(count)]


def test_sequential_ignores_rarity() -> None:
    picker = setup_picker("3131313")
    picker.set_sequential(True)
    assert picker.sequential
    assert started_in_order(picker, "a", full(7), 7) == [0, 1, 2, 3, 4, 5, 6]


def test_sequential_starts_with_the_pieces_asked_for_first() -> None:
    picker = setup_picker("1111111")
    picker.set_sequential(True, first=[0, 6, 3])
    assert started_in_order(picker, "a", full(7), 7) == [0, 6, 3, 1, 2, 4, 5]


def test_sequential_keeps_high_priority_first_and_skips_skipped() -> None:
    picker = setup_picker("111111", priority="101211")
    picker.set_sequential(True)
    assert started_in_order(picker, "a", full(6), 5) == [3, 0, 2, 4, 5]
    assert picker.pick("a", full(6), BLOCKS) == []


def test_sequential_gives_a_peer_the_lowest_piece_it_has() -> None:
    picker = setup_picker("11111")
    picker.set_sequential(True, first=[0])
    assert started_in_order(picker, "a", bits("00111"), 2) == [2, 3]
    assert started_in_order(picker, "b", full(5), 2) == [0, 1]


def test_sequential_goes_back_for_a_failed_piece() -> None:
    picker = setup_picker("1111")
    picker.set_sequential(True)
    receive_all(picker, "a", picker.pick("a", full(4), BLOCKS))
    receive_all(picker, "a", picker.pick("a", full(4), BLOCKS))
    picker.piece_verified(1)
    picker.piece_failed(0)
    assert started_in_order(picker, "a", full(4), 3) == [0, 2, 3]


def test_sequential_goes_back_for_a_piece_wanted_again() -> None:
    picker = setup_picker("1111", priority="0111")
    picker.set_sequential(True)
    assert started_in_order(picker, "a", full(4), 2) == [1, 2]
    picker.set_priorities([1, 1, 1, 1])
    assert started_in_order(picker, "a", full(4), 2) == [0, 3]


def test_sequential_off_is_rarest_first_again() -> None:
    picker = setup_picker("3231333")
    picker.set_sequential(True, first=[6])
    picker.set_sequential(False)
    assert pieces_of(picker.pick("a", full(7), BLOCKS)) == [3]


def test_pieces_asked_for_first_must_exist() -> None:
    with pytest.raises(ValueError):
        setup_picker("11").set_sequential(True, first=[2])


# -- suggested and allowed pieces (BEP 6) ----------------------------------------------------


def test_a_suggested_piece_comes_before_the_rarest() -> None:
    picker = setup_picker("3231333")
    blocks = picker.pick("a", full(7), BLOCKS + 1, prefer=[4])
    assert [b.piece for b in blocks] == [4] * BLOCKS + [3]  # then piece 3, the rarest


def test_suggestions_the_peer_lacks_or_we_do_not_want_are_passed_over() -> None:
    picker = setup_picker("1111", have="1000", priority="1101")
    blocks = picker.pick("a", bits("1110"), 1, prefer=[0, 2, 3, 99, 1])
    assert blocks == [Block(1, 0, BS)]  # 0 verified, 2 skipped, 3 not the peer's, 99 no piece


def test_a_suggested_piece_already_started_gives_its_free_blocks() -> None:
    picker = setup_picker("1111")
    first = picker.pick("a", full(4), 2)
    started = first[0].piece
    blocks = picker.pick("b", full(4), 2, prefer=[started])
    assert [(b.piece, b.offset) for b in blocks] == [(started, 2 * BS), (started, 3 * BS)]


def test_only_the_allowed_pieces_while_the_peer_chokes_us() -> None:
    picker = setup_picker("3231333")
    blocks = picker.pick("a", full(7), 100, prefer=[5, 6], only=True)
    assert pieces_of(blocks) == [5, 6] and len(blocks) == 2 * BLOCKS
    assert picker.pick("a", full(7), 100, prefer=[5, 6], only=True) == []  # all in flight
    assert picker.pick("a", full(7), 100, only=True) == []


def test_allowed_pieces_of_a_seed_counted_once_are_picked() -> None:
    picker = PiecePicker(8, BLOCKS * BS, 8 * BLOCKS * BS, rng=random.Random(0))
    picker.peer_joined(full(8))  # availability sits in the seed count, not per piece
    blocks = picker.pick("seed", full(8), 100, prefer=[3], only=True)
    assert pieces_of(blocks) == [3]


def test_blocks_of_an_allowed_piece_return_to_the_pool_when_the_peer_goes() -> None:
    picker = setup_picker("11")
    blocks = picker.pick("a", full(2), 100, prefer=[1], only=True)
    picker.peer_gone("a")
    assert picker.pick("b", full(2), 100, prefer=[1], only=True) == blocks


# -- a swarm of random events ----------------------------------------------------------------


def test_random_swarm_downloads_everything_once() -> None:
    """Peers pick, deliver, time out, leave and send bad data at random; all ends verified."""
    rng = random.Random(7)
    n = 30
    picker = PiecePicker(n, BLOCKS * BS, n * BLOCKS * BS - 5000, rng=random.Random(1))
    peers: dict[str, Bitfield] = {}
    in_flight: dict[str, list[Block]] = {}

    def join(name: str) -> None:
        bf = full(n) if rng.random() < 0.3 else bits("".join(rng.choice("01") for _ in range(n)))
        peers[name], in_flight[name] = bf, []
        picker.peer_joined(bf)

    def leave(name: str) -> None:
        picker.peer_gone(name)
        picker.peer_left(peers.pop(name))
        del in_flight[name]

    for i in range(6):
        join(f"p{i}")
    for step in range(20000):
        if picker.is_complete():
            break
        name = rng.choice(sorted(peers))
        action = rng.random()
        if action < 0.4:
            blocks = picker.pick(name, peers[name], rng.randint(1, 6))
            assert not set(blocks) & set(in_flight[name])
            in_flight[name] += blocks
        elif action < 0.85 and in_flight[name]:
            block = in_flight[name].pop(rng.randrange(len(in_flight[name])))
            ok, others, complete = picker.block_received(name, block)
            assert ok
            for other in others:
                assert isinstance(other, str)
                in_flight[other].remove(block)  # the caller's `cancel`
            assert complete == (picker.piece_state(block.piece) == PieceState.WRITING)
            if complete:
                if rng.random() < 0.1:
                    assert name in picker.piece_failed(block.piece)
                else:
                    picker.piece_verified(block.piece)
        elif action < 0.9 and in_flight[name]:
            picker.abort(name, in_flight[name].pop())
        elif action < 0.93:
            leave(name)
            join(f"late{step}")
    assert picker.is_complete(), picker.states_bytes()
    assert picker.states_bytes() == bytes([PieceState.VERIFIED]) * n


# -- hot path --------------------------------------------------------------------------------


def test_every_block_of_a_large_torrent_is_handed_out_once() -> None:
    """1,024 pieces of 64 blocks through pick/block_received, as a seed would serve them.

    A micro-benchmark too: run it with `--durations` to see the picker's cost per block.
    """
    n, per_piece = 1024, 64
    picker = PiecePicker(n, per_piece * BS, n * per_piece * BS, rng=random.Random(0))
    seed = full(n)
    picker.peer_joined(seed)
    seen: set[tuple[int, int]] = set()
    received = [0] * n
    while blocks := picker.pick("seed", seed, 32):
        for block in blocks:
            seen.add((block.piece, block.offset))
            _, _, complete = picker.block_received("seed", block)
            received[block.piece] += 1
            assert complete == (received[block.piece] == per_piece)
            if complete:
                picker.piece_verified(block.piece)
    assert len(seen) == n * per_piece
    assert picker.is_complete()


class CountingRandom(random.Random):
    """Counts the random offsets drawn: one per bucket scanned for new pieces."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.draws = 0

    def randrange(self, *args: int) -> int:  # type: ignore[override]
        self.draws += 1
        return super().randrange(*args)


def one_block_pieces(availability: str, rng: random.Random) -> PiecePicker:
    """Pieces of a single block (16 KiB pieces): every block requested starts a piece."""
    n = len(availability)
    picker = PiecePicker(n, BS, n * BS, rng=rng)
    for level in range(1, 10):
        holders = "".join("1" if int(c) >= level else "0" for c in availability)
        if "1" in holders:
            picker.peer_joined(bits(holders))
    return picker


def test_small_pieces_are_started_many_from_one_scan() -> None:
    """A pipeline of 64 blocks over one-block pieces scans the pieces once, not 64 times."""
    rng = CountingRandom(0)
    picker = one_block_pieces("1" * 200, rng)
    blocks = picker.pick("seed", full(200), 64)
    assert len(pieces_of(blocks)) == 64 and len(blocks) == 64
    assert rng.draws == 1


def test_small_pieces_started_together_are_still_rarest_first() -> None:
    picker = one_block_pieces("3213213", CountingRandom(0))
    assert pieces_of(picker.pick("a", full(7), 2)) == [2, 5]  # the two held by one peer
    assert pieces_of(picker.pick("b", full(7), 2)) == [1, 4]  # then those held by two
    assert pieces_of(picker.pick("c", bits("1110000"), 3)) == [0]  # of what c has, only 0 is left


def test_small_pieces_started_together_come_high_priority_first() -> None:
    picker = one_block_pieces("1111", CountingRandom(0))
    picker.set_priorities([1, 2, 1, 2])
    assert pieces_of(picker.pick("a", full(4), 2)) == [1, 3]
    assert pieces_of(picker.pick("a", full(4), 3)) == [0, 2]


# -- whole pieces (web seeds) ---------------------------------------------------------------


def test_whole_pieces_skip_the_ones_peers_started() -> None:
    picker = setup_picker("1111")
    peer = picker.pick("peer", full(4), 1)
    web = picker.pick_whole("web", full(4), 2 * BLOCKS)
    assert len(web) == 2 * BLOCKS and peer[0].piece not in pieces_of(web)
    assert all(len([b for b in web if b.piece == piece]) == BLOCKS for piece in pieces_of(web))


def test_whole_pieces_are_rarest_first_and_at_least_one() -> None:
    picker = setup_picker("3213")
    assert pieces_of(picker.pick_whole("web", full(4), 1)) == [2]
    assert pieces_of(picker.pick_whole("web", full(4), 1)) == [1]


def test_a_piece_whose_blocks_all_came_back_is_taken_whole_first() -> None:
    picker = setup_picker("1111")
    given_up = picker.pick_whole("web", full(4), BLOCKS)
    picker.peer_gone("web")
    assert picker.pick_whole("other web", full(4), BLOCKS) == given_up


def test_when_only_started_pieces_are_left_their_free_blocks_are_taken() -> None:
    picker = setup_picker("1")
    peer = picker.pick("peer", full(1), 1)
    web = picker.pick_whole("web", full(1), BLOCKS - 1)
    assert sorted(web, key=lambda b: b.offset) == [Block(0, i * BS, BS) for i in range(1, BLOCKS)]
    assert picker.pick_whole("web", full(1), 1) == peer  # then the endgame's duplicates


def test_a_slow_piece_is_taken_over_whole_its_free_blocks_and_those_in_flight() -> None:
    picker = setup_picker("11")
    slow = picker.pick("slow", full(2), 2, prefer=[0])
    fast = picker.pick("fast", full(2), BLOCKS, prefer=[1])
    web = picker.pick_whole("web", full(2), 2 * BLOCKS, slow=lambda: [0])
    assert web == [Block(0, i * BS, BS) for i in range(BLOCKS)]  # one range over the piece's missing part
    assert picker.pick_whole("web", full(2), 2 * BLOCKS, slow=lambda: [0]) == fast  # then the endgame's rule
    assert picker.block_received("web", slow[0])[:2] == (True, ["slow"])


def test_slow_peers_that_filled_the_endgame_cap_do_not_lock_a_web_seed_out() -> None:
    picker = setup_picker("1")
    blocks = picker.pick("slow 0", full(1), BLOCKS)
    for n in range(1, MAX_REQUESTERS):
        assert picker.pick(f"slow {n}", full(1), BLOCKS) == blocks  # the endgame's duplicates
    assert picker.pick("one peer too many", full(1), BLOCKS) == []
    assert picker.pick_whole("web", full(1), BLOCKS, slow=lambda: [0]) == blocks
    assert picker.pick_whole("web", full(1), BLOCKS, slow=lambda: [0]) == []  # once
    picker.peer_gone("slow 0")  # back under the cap: peers may duplicate again
    assert picker.pick("one peer too many", full(1), BLOCKS) == []  # the web seed fills it
    picker.peer_gone("web")
    assert sorted(picker.pick("one peer too many", full(1), BLOCKS)) == blocks
    accepted, others, _ = picker.block_received("slow 1", blocks[0])
    assert accepted and sorted(others) == ["one peer too many", "slow 2"]


def test_a_skipped_slow_piece_is_not_taken_over() -> None:
    picker = setup_picker("11")
    picker.pick("slow", full(2), BLOCKS, prefer=[0])
    picker.pick("fast", full(2), BLOCKS, prefer=[1])
    picker.set_priorities([0, 1])
    assert pieces_of(picker.pick_whole("web", full(2), BLOCKS, slow=lambda: [0])) == [1]  # the endgame's duplicates
