"""The pure half of BEP 19 web seeds: URLs, range plans, response checks, back-off, and which
started pieces peers are too slow with."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.bencode import decode_info, encode
from app.engine.metainfo import Metainfo, parse_metainfo, to_torrent_bytes
from app.engine.bitfield import Bitfield
from app.engine.piece_picker import BLOCK_SIZE, Block, PiecePicker
from app.engine.storage.layout import Layout
from app.engine.webseed import (
    BACKOFF,
    MAX_FAILURES,
    SLOW_AFTER,
    STALL_GRACE,
    PeerQueue,
    Segment,
    SeedHealth,
    WebSeedError,
    check_response,
    file_urls,
    http_seed_plan,
    plan,
    retry_after,
    runs,
    slow_pieces,
)


def torrent(name: str, files: list[tuple[list[str], int]] | None, length: int = 0, piece_length: int = 16) -> Metainfo:
    info: dict[bytes, Any] = {b"name": name.encode(), b"piece length": piece_length}
    if files is None:
        info[b"length"] = length
        total = length
    else:
        info[b"files"] = [
            {b"path": [p.encode() for p in path], b"length": size, **({b"attr": b"p"} if path[0] == ".pad" else {})}
            for path, size in files
        ]
        total = sum(size for _, size in files)
    info[b"pieces"] = b"\0" * 20 * -(-total // piece_length)
    return parse_metainfo(encode({b"info": info}))


def layout_of(meta: Metainfo) -> Layout:
    return Layout(meta.piece_length, [f.length for f in meta.files])


# -- URLs (BEP 19; libtorrent web_peer_connection) ------------------------------------------------


def test_single_file_url_is_used_as_it_is() -> None:
    meta = torrent("film.mkv", None, 40)
    assert file_urls("http://127.0.0.1/mirror/film-v2.mkv", meta) == ("http://127.0.0.1/mirror/film-v2.mkv",)


def test_single_file_url_ending_in_slash_gets_the_name_percent_encoded() -> None:
    meta = torrent("my film#1 é.mkv", None, 40)
    assert file_urls("http://127.0.0.1/pub/", meta) == ("http://127.0.0.1/pub/my%20film%231%20%C3%A9.mkv",)


def test_multi_file_url_is_the_folder_above_the_torrents_folder() -> None:
    meta = torrent("michael", [(["Readme.txt"], 10), (["sub dir", "a?b.bin"], 30)])
    assert file_urls("http://127.0.0.1/pub/", meta) == (
        "http://127.0.0.1/pub/michael/Readme.txt",
        "http://127.0.0.1/pub/michael/sub%20dir/a_b.bin",  # the name as saved: '?' is made safe
    )
    assert file_urls("http://127.0.0.1/pub", meta)[0] == "http://127.0.0.1/pub/michael/Readme.txt"


def test_pad_files_have_no_url() -> None:
    meta = torrent("m", [(["a"], 10), ([".pad", "6"], 6), (["b"], 16)])
    urls = file_urls("http://127.0.0.1/", meta)
    assert urls[1] is None and urls[2] == "http://127.0.0.1/m/b"


# -- planning -------------------------------------------------------------------------------------


def test_runs_join_adjacent_blocks_even_across_pieces() -> None:
    blocks = [Block(1, 0, 16), Block(0, 16, 16), Block(3, 0, 8), Block(0, 0, 16)]
    assert runs(blocks, 32) == [
        (0, [Block(0, 0, 16), Block(0, 16, 16), Block(1, 0, 16)]),
        (96, [Block(3, 0, 8)]),
    ]


def test_runs_keep_a_gap_apart() -> None:
    assert [start for start, _ in runs([Block(0, 0, 16), Block(2, 0, 16)], 16)] == [0, 32]


def test_a_piece_spanning_files_is_one_request_per_file() -> None:
    meta = torrent("m", [(["a"], 10), (["empty"], 0), (["b"], 4), (["c"], 30)], piece_length=16)
    urls = file_urls("http://h/", meta)
    assert plan(urls, layout_of(meta), 0, 16) == [
        Segment("http://h/m/a", 0, 10, 10),
        Segment("http://h/m/b", 0, 4, 4),
        Segment("http://h/m/c", 0, 2, 30),
    ]
    assert plan(urls, layout_of(meta), 16, 16) == [Segment("http://h/m/c", 2, 16, 30)]


def test_pad_file_segments_are_zeros_not_requests() -> None:
    meta = torrent("m", [(["a"], 10), ([".pad", "6"], 6), (["b"], 16)])
    segments = plan(file_urls("http://h/", meta), layout_of(meta), 0, 32)
    assert [s.url for s in segments] == ["http://h/m/a", None, "http://h/m/b"]


def test_range_header_is_inclusive() -> None:
    assert Segment("u", 100, 50, 1000).range_header == "bytes=100-149"


# -- responses ------------------------------------------------------------------------------------


def test_206_with_our_range_passes() -> None:
    check_response(Segment("u", 100, 50, 1000), 206, "Partial Content", "bytes 100-149/1000")
    check_response(Segment("u", 100, 50, 1000), 206, "Partial Content", "bytes 100-149/*")


@pytest.mark.parametrize("header", [None, "bytes 0-49/1000", "bytes 100-150/1000", "items 100-149/1000", "bytes x"])
def test_206_with_another_range_fails(header: str | None) -> None:
    with pytest.raises(WebSeedError, match="other bytes"):
        check_response(Segment("u", 100, 50, 1000), 206, "Partial Content", header)


def test_200_only_when_we_asked_for_the_whole_file() -> None:
    check_response(Segment("u", 0, 1000, 1000), 200, "OK", None)
    with pytest.raises(WebSeedError, match="does not support range requests"):
        check_response(Segment("u", 0, 999, 1000), 200, "OK", None)


def test_errors_in_plain_words() -> None:
    with pytest.raises(WebSeedError, match="^HTTP 404 Not Found$") as caught:
        check_response(Segment("u", 0, 1, 2), 404, "Not Found", None)
    assert not caught.value.busy
    with pytest.raises(WebSeedError, match="busy") as busy:
        check_response(Segment("u", 0, 1, 2), 503, "Service Unavailable", None)
    assert busy.value.busy


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 7 ", 7.0), ("99999", 3600.0),
                                                ("Wed, 21 Oct 2015 07:28:00 GMT", None), (None, None), ("-3", None)])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


# -- back-off -------------------------------------------------------------------------------------


def test_failures_back_off_longer_then_drop() -> None:
    health = SeedHealth()
    now = 1000.0
    for attempt in range(MAX_FAILURES - 1):
        assert health.ready(now)
        health.failed(WebSeedError("HTTP 500 Internal Server Error"), now)
        delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
        assert not health.ready(now + delay - 0.1) and health.ready(now + delay)
        assert health.status(now) == f"retrying in {delay:.0f} s: HTTP 500 Internal Server Error"
        now += delay
    health.failed(WebSeedError("HTTP 500 Internal Server Error"), now)
    assert health.dropped and not health.ready(now + 10**6)
    assert health.status(now) == "dropped: HTTP 500 Internal Server Error"


def test_success_forgives_failures() -> None:
    health = SeedHealth()
    for _ in range(MAX_FAILURES - 1):
        health.failed(WebSeedError("timed out"), 0.0)
    health.succeeded()
    health.failed(WebSeedError("timed out"), 0.0)
    assert not health.dropped and health.retry_at == BACKOFF[0]
    assert health.status(BACKOFF[0]) == "failed: timed out"
    health.succeeded()
    assert health.status(BACKOFF[0]) == ""


def test_busy_server_waits_as_asked_and_is_never_dropped() -> None:
    health = SeedHealth()
    for _ in range(MAX_FAILURES * 2):
        health.failed(WebSeedError("busy (HTTP 503)", retry_after=90.0, busy=True), 0.0)
    assert not health.dropped and health.retry_at == 90.0 and health.failures == 0


def test_bad_piece_from_the_seed_alone_drops_it() -> None:
    health = SeedHealth()
    health.hash_failed(alone=True)
    assert health.status(0.0) == "dropped: sent data that failed the hash check"


def test_bad_pieces_shared_with_peers_are_strikes() -> None:
    health = SeedHealth()
    health.hash_failed(alone=False)
    assert not health.dropped
    health.hash_failed(alone=False)
    assert health.dropped


# -- BEP 17 ---------------------------------------------------------------------------------------


def test_http_seed_asks_for_pieces_by_number_with_ranges_in_the_query() -> None:
    meta = torrent("m", [(["a"], 10), (["b"], 30)], piece_length=16)
    info_hash = bytes(range(0x9C, 0x9C + 20))
    segments = http_seed_plan("http://h/seed.php", info_hash, layout_of(meta), 8, 28)
    hash_text = "".join(f"%{b:02X}" for b in info_hash)
    assert segments == [
        Segment(f"http://h/seed.php?info_hash={hash_text}&piece=0&ranges=8-15", 8, 8, 16, ranged=False),
        Segment(f"http://h/seed.php?info_hash={hash_text}&piece=1", 0, 16, 16, ranged=False),
        Segment(f"http://h/seed.php?info_hash={hash_text}&piece=2&ranges=0-3", 0, 4, 8, ranged=False),
    ]
    assert http_seed_plan("http://h/s?k=1", info_hash, layout_of(meta), 32, 8)[0].url.startswith("http://h/s?k=1&info")


def test_http_seed_answers_with_200() -> None:
    check_response(Segment("u", 8, 8, 16, ranged=False), 200, "OK", None)
    with pytest.raises(WebSeedError, match="busy") as busy:
        check_response(Segment("u", 8, 8, 16, ranged=False), 503, "Service Unavailable", None)
    assert busy.value.busy


def test_httpseeds_are_read_and_written_with_the_torrent() -> None:
    meta = torrent("m", None, 40)
    data = encode({b"info": decode_info(meta.raw_info), b"httpseeds": [b"http://127.0.0.1/seed.php", b"ftp://x/"]})
    parsed = parse_metainfo(data)
    assert parsed.http_seeds == ("http://127.0.0.1/seed.php",)
    assert parse_metainfo(to_torrent_bytes(parsed)).http_seeds == parsed.http_seeds


# -- taking over pieces peers are slow with -------------------------------------------------------

BS = BLOCK_SIZE


def blocks_of(piece: int, count: int = 4) -> tuple[Block, ...]:
    return tuple(Block(piece, i * BS, BS) for i in range(count))


def test_a_piece_queued_behind_more_than_slow_after_seconds_is_slow() -> None:
    rate = 4 * BS / SLOW_AFTER  # the first piece's four blocks take SLOW_AFTER seconds exactly
    queue = PeerQueue(rate, last_block_at=100.0, blocks=blocks_of(0) + blocks_of(1))
    assert slow_pieces([queue], now=100.0) == [1]


def test_the_slowest_piece_comes_first() -> None:
    slow = PeerQueue(BS / SLOW_AFTER / 2, 0.0, blocks_of(3, 1) + blocks_of(5, 1))
    assert slow_pieces([slow], now=0.0) == [5, 3]


def test_a_block_also_asked_of_a_fast_peer_is_not_slow() -> None:
    slow = PeerQueue(1.0, 0.0, blocks_of(0))  # a byte a second
    fast = PeerQueue(10 * 1024 * 1024, 0.0, blocks_of(0))  # the endgame asked it too
    assert slow_pieces([slow], now=0.0) == [0]
    assert slow_pieces([slow, fast], now=0.0) == []


def test_a_piece_waits_for_its_slowest_block() -> None:
    fast = PeerQueue(10 * 1024 * 1024, 0.0, blocks_of(0, 3))
    slow = PeerQueue(1.0, 0.0, (Block(0, 3 * BS, BS),))
    assert slow_pieces([fast, slow], now=0.0) == [0]


def test_in_the_endgame_every_piece_in_flight_is_taken_over_slowest_first() -> None:
    fast = PeerQueue(10 * 1024 * 1024, 0.0, blocks_of(2))
    quick = PeerQueue(0.0, 0.0, blocks_of(4))  # just asked: not judged yet
    slower = PeerQueue(BS, 0.0, blocks_of(3, 1))
    assert slow_pieces([fast, quick, slower], now=0.0) == []
    assert slow_pieces([fast, quick, slower], now=0.0, endgame=True) == [3, 2, 4]


def test_a_peer_with_no_rate_is_stalled_only_after_the_grace() -> None:
    queue = PeerQueue(0.0, last_block_at=50.0, blocks=blocks_of(7))
    assert slow_pieces([queue], now=50.0 + STALL_GRACE) == []  # just asked: not judged yet
    assert slow_pieces([queue], now=50.0 + STALL_GRACE + 0.5) == [7]


def test_a_web_seed_takes_over_the_slow_piece_when_every_piece_is_started() -> None:
    """Pieces 0 and 2 from a fast peer, 1 from a slow one; nothing left to start. The seed takes
    piece 1's blocks (the slow peer's requests duplicated), wins, and the slow peer is cancelled."""
    picker = PiecePicker(3, 4 * BS, 12 * BS)
    picker.peer_joined(Bitfield.full(3))
    fast_blocks = picker.pick("fast", Bitfield.full(3), 4, prefer=[0])
    slow_blocks = picker.pick("slow", Bitfield.full(3), 4, prefer=[1])
    fast_blocks += picker.pick("fast", Bitfield.full(3), 4, prefer=[2])
    assert {b.piece for b in slow_blocks} == {1} and {b.piece for b in fast_blocks} == {0, 2}
    clock = 1000.0
    queues = [PeerQueue(1_000_000.0, clock, tuple(fast_blocks)), PeerQueue(2048.0, clock - 1, tuple(slow_blocks))]
    web = picker.pick_whole("web", Bitfield.full(3), 8, slow=lambda: slow_pieces(queues, clock))
    assert sorted(web) == sorted(slow_blocks)  # the whole missing part: one range
    for block in web:
        assert picker.block_received("web", block)[:2] == (True, ["slow"])  # the slow peer's requests cancelled
        assert picker.block_received("slow", block) == (False, [], False)  # its late copy is dropped
    assert picker.piece_failed(1) == {"web"}  # a failure would be the seed's alone, not the peer's


def test_nothing_is_taken_over_while_a_piece_is_left_to_start() -> None:
    picker = PiecePicker(2, 4 * BS, 8 * BS)
    picker.peer_joined(Bitfield.full(2))
    slow_blocks = picker.pick("slow", Bitfield.full(2), 4)
    asked: list[int] = []

    def slow() -> list[int]:
        asked.append(1)
        return [slow_blocks[0].piece]

    web = picker.pick_whole("web", Bitfield.full(2), 4, slow=slow)
    assert {b.piece for b in web} == {1 - slow_blocks[0].piece} and asked == []
