from urllib.parse import urlsplit

import pytest

from app.engine import bencode
from app.engine.errors import TrackerError
from app.engine.tracker import http_codec
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry

BINARY_HASH = bytes(range(0xEC, 0x100))  # 20 bytes, none of them URL-safe
PEER_ID = b"-PM0001-abc~def.12_3"


def make_request(**changes: object) -> AnnounceRequest:
    fields: dict[str, object] = dict(
        info_hash=BINARY_HASH, peer_id=PEER_ID, port=6881, uploaded=10, downloaded=20, left=30
    )
    fields.update(changes)
    return AnnounceRequest(**fields)  # type: ignore[arg-type]


def query_of(url: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))


def test_announce_url_percent_encodes_every_binary_byte() -> None:
    query = query_of(http_codec.announce_url("http://127.0.0.1:8000/announce", make_request()))
    assert query["info_hash"] == "".join(f"%{b:02X}" for b in BINARY_HASH)
    assert query["peer_id"] == "-PM0001-abc~def.12_3"  # unreserved characters stay as they are


def test_announce_url_carries_the_numbers_compact_and_the_key_as_eight_hex_digits() -> None:
    url = http_codec.announce_url("http://127.0.0.1/announce", make_request(key=0xABC, numwant=7))
    query = query_of(url)
    assert (query["port"], query["uploaded"], query["downloaded"], query["left"]) == (
        "6881",
        "10",
        "20",
        "30",
    )
    assert (query["compact"], query["numwant"], query["key"]) == ("1", "7", "00000ABC")
    assert "event" not in query and "trackerid" not in query


def test_announce_url_names_the_event_and_returns_the_tracker_id() -> None:
    request = make_request(event=AnnounceEvent.STOPPED, tracker_id=b"id 1")
    query = query_of(http_codec.announce_url("http://127.0.0.1/announce", request))
    assert query["event"] == "stopped"
    assert query["trackerid"] == "id%201"


def test_announce_url_keeps_the_announce_urls_own_query() -> None:
    url = http_codec.announce_url("http://127.0.0.1/a/announce?passkey=s3cr3t", make_request())
    parts = urlsplit(url)
    assert parts.path == "/a/announce"
    assert parts.query.startswith("passkey=s3cr3t&info_hash=%EC")


@pytest.mark.parametrize("event", list(AnnounceEvent))
def test_announce_url_round_trips_through_the_servers_parser(event: AnnounceEvent) -> None:
    request = make_request(event=event, key=0xDEADBEEF, numwant=0, tracker_id=b"\x00\xff")
    url = http_codec.announce_url("http://127.0.0.1/announce", request)
    query = http_codec.parse_announce_query(urlsplit(url).query)
    assert query.request == request
    assert query.compact and query.ip is None


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("peer_id=-PM0001-abc~def.12_3&port=1", "invalid info_hash"),
        ("info_hash=%00&peer_id=-PM0001-abc~def.12_3&port=1", "invalid info_hash"),
        ("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=short&port=1", "invalid peer_id"),
        ("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb", "missing port"),
        ("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=x", "invalid port"),
        ("info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=0", "invalid port"),
        (
            "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&left=-",
            "invalid left",
        ),
    ],
)
def test_announce_query_rejections(query: str, message: str) -> None:
    with pytest.raises(TrackerError, match=f"^{message}$"):
        http_codec.parse_announce_query(query)


def test_parse_query_decodes_plus_as_space_and_keeps_repeats() -> None:
    assert http_codec.parse_query("a=1+2&a=%2B&b") == {"a": [b"1 2", b"+"], "b": [b""]}


def test_compact_peers_drop_port_zero_and_a_trailing_partial_entry() -> None:
    peers = bytes([127, 0, 0, 2, 0x1A, 0xE1, 127, 0, 0, 3, 0, 0, 127, 0, 0])
    six = bytes(15) + b"\x01" + b"\x00\x50"
    body = bencode.encode({b"interval": 900, b"peers": peers, b"peers6": six})
    response = http_codec.parse_announce_response(body)
    assert response.peers == (("127.0.0.2", 6881), ("::1", 80))
    assert response.interval == 900
    assert (response.min_interval, response.complete, response.incomplete) == (None, None, None)


def test_dictionary_peers_keep_ip_literals_with_valid_ports_only() -> None:
    peers = [
        {b"ip": b"127.0.0.5", b"peer id": b"x" * 20, b"port": 5000},
        {b"ip": b"::1", b"port": 5001},
        {b"ip": b"localhost", b"port": 5002},
        {b"ip": b"127.0.0.6", b"port": 0},
        {b"ip": b"127.0.0.7", b"port": 70000},
        {b"ip": 5, b"port": 5003},
        b"not a dictionary",
    ]
    response = http_codec.parse_announce_response(
        bencode.encode({b"interval": 60, b"peers": peers})
    )
    assert response.peers == (("127.0.0.5", 5000), ("::1", 5001))


def test_failure_reason_becomes_the_error_text() -> None:
    body = bencode.encode({b"failure reason": b"unregistered torrent", b"interval": 60})
    with pytest.raises(TrackerError, match="^unregistered torrent$"):
        http_codec.parse_announce_response(body)
    assert http_codec.failure_reason(body) == "unregistered torrent"


@pytest.mark.parametrize(
    "body", [b"", b"<html>502 Bad Gateway</html>", b"d8:intervali60e", b"li60ee"]
)
def test_garbage_is_a_malformed_response(body: bytes) -> None:
    with pytest.raises(TrackerError, match="^tracker sent a malformed response$"):
        http_codec.parse_announce_response(body)
    assert http_codec.failure_reason(body) is None


@pytest.mark.parametrize(
    ("interval", "min_interval", "expected"),
    [
        (5, 1, (60, 60)),
        (10**9, 10**9, (7200, 7200)),
        (b"soon", None, (1800, None)),
        (None, 600, (1800, 600)),
    ],
)
def test_intervals_are_clamped_to_sane_bounds(
    interval: object, min_interval: int | None, expected: tuple[int, int | None]
) -> None:
    message: dict[bytes, object] = {b"peers": b""}
    if interval is not None:
        message[b"interval"] = interval
    if min_interval is not None:
        message[b"min interval"] = min_interval
    response = http_codec.parse_announce_response(bencode.encode(message))
    assert (response.interval, response.min_interval) == expected


def test_warning_counts_and_tracker_id() -> None:
    body = bencode.encode(
        {
            b"interval": 120,
            b"complete": 3,
            b"incomplete": -1,
            b"warning message": "slow down ✓".encode(),
            b"tracker id": b"T1",
            b"peers": b"",
        }
    )
    response = http_codec.parse_announce_response(body)
    assert (response.complete, response.incomplete) == (3, None)
    assert (response.warning, response.tracker_id) == ("slow down ✓", b"T1")


@pytest.mark.parametrize("compact", [True, False])
def test_announce_response_round_trip(compact: bool) -> None:
    response = AnnounceResponse(
        interval=600,
        min_interval=300,
        peers=(("127.0.0.2", 6881), ("127.0.0.3", 1), ("::1", 65535)),
        complete=1,
        incomplete=2,
        warning="w",
        tracker_id=b"t",
    )
    ids = [b"a" * 20, b"b" * 20, b"c" * 20]
    body = http_codec.encode_announce_response(response, compact_peers=compact, peer_ids=ids)
    assert http_codec.parse_announce_response(body) == response
    assert (b"peers6" in bencode.decode(body)) is compact


def test_failure_encoding_round_trip() -> None:
    assert http_codec.failure_reason(http_codec.encode_failure("go away")) == "go away"


@pytest.mark.parametrize(
    ("announce", "scrape"),
    [
        ("http://127.0.0.1/announce", "http://127.0.0.1/scrape"),
        ("http://127.0.0.1/x/announce.php?passkey=k", "http://127.0.0.1/x/scrape.php?passkey=k"),
        ("https://127.0.0.1:443/announce_x", "https://127.0.0.1:443/scrape_x"),
        ("http://127.0.0.1/a", None),
        ("http://127.0.0.1/announce/x", None),
        ("http://127.0.0.1/x%064announce", None),
    ],
)
def test_scrape_url_follows_bep_48(announce: str, scrape: str | None) -> None:
    assert http_codec.scrape_url(announce) == scrape


def test_scrape_url_lists_every_info_hash() -> None:
    url = http_codec.scrape_url("http://127.0.0.1/announce?k=1", [b"\x01" * 20, b"a" * 20])
    assert url == "http://127.0.0.1/scrape?k=1&info_hash=" + "%01" * 20 + "&info_hash=" + "a" * 20
    assert http_codec.scrape_info_hashes(urlsplit(url or "").query) == [b"\x01" * 20, b"a" * 20]


def test_scrape_response_round_trip_and_malformed_entries_dropped() -> None:
    entries = {b"a" * 20: ScrapeEntry(1, 2, 3), b"b" * 20: ScrapeEntry(0, 0, 0)}
    assert http_codec.parse_scrape_response(http_codec.encode_scrape_response(entries)) == entries
    body = bencode.encode(
        {
            b"files": {
                b"short": {b"complete": 1, b"incomplete": 1},
                b"c" * 20: {b"complete": 4, b"incomplete": 5},
                b"d" * 20: {b"complete": b"x", b"incomplete": 1},
                b"e" * 20: 7,
            }
        }
    )
    assert http_codec.parse_scrape_response(body) == {b"c" * 20: ScrapeEntry(4, 5, 0)}


def test_scrape_failure_and_garbage() -> None:
    with pytest.raises(TrackerError, match="^no scrape here$"):
        http_codec.parse_scrape_response(http_codec.encode_failure("no scrape here"))
    with pytest.raises(TrackerError, match="malformed"):
        http_codec.parse_scrape_response(bencode.encode({b"files": [1]}))
