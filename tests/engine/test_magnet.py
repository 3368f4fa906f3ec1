import base64
import contextlib
import re
from pathlib import Path

import libtorrent as lt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.errors import MagnetError
from app.engine.magnet import Magnet, format_magnet, parse_magnet

HASH = bytes(range(20))
HEX = HASH.hex()
BASE32 = base64.b32encode(HASH).decode()


def test_a_full_link() -> None:
    uri = (
        f"magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny%21"
        "&tr=udp%3A%2F%2F127.0.0.1%3A6969&tr=http://127.0.0.2/announce"
        "&ws=http%3A%2F%2F127.0.0.1%2Fseed&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882"
        "&x.pe=peer.localhost:6883&xl=1234&so=0-3"
    )
    assert parse_magnet(uri) == Magnet(
        info_hash=HASH,
        display_name="Big Buck Bunny!",
        trackers=("udp://127.0.0.1:6969", "http://127.0.0.2/announce"),
        web_seeds=("http://127.0.0.1/seed",),
        peers=(("127.0.0.1", 6881), ("::1", 6882), ("peer.localhost", 6883)),
    )


@pytest.mark.parametrize(
    "topic", [HEX, HEX.upper(), BASE32, BASE32.lower(), f"{BASE32[:10].lower()}{BASE32[10:]}"]
)
def test_info_hash_in_hex_or_base32_any_case(topic: str) -> None:
    assert parse_magnet(f"magnet:?xt=urn:btih:{topic}").info_hash == HASH


@pytest.mark.parametrize(
    "uri",
    [
        f"MAGNET:?XT=URN:BTIH:{HEX}",
        f"  Magnet:?xt=urn:BtIh:{HEX}\n",
        f"magnet:?dn=x&xt=urn:btih:{HEX}&",
        f"magnet:?xt.1=urn:btih:{HEX}&xt.2=urn:btih:{HEX.upper()}",
        f"magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{'ab' * 32}",  # hybrid: v1 part used
        f"magnet:?xt=urn:sha1:XYZ&xt=urn:btih:{HEX}",
    ],
)
def test_lenient_about_case_whitespace_order_and_other_topics(uri: str) -> None:
    assert parse_magnet(uri).info_hash == HASH


def test_only_the_hash_is_required() -> None:
    assert parse_magnet(f"magnet:?xt=urn:btih:{HEX}") == Magnet(HASH, "", (), (), ())


def test_several_and_repeated_trackers_keep_their_order_once() -> None:
    extra = "tr=udp://b:1&tr=http://a/&tr.1=udp://b:1&ws=http://w/&ws=http://w/"
    magnet = parse_magnet(f"magnet:?xt=urn:btih:{HEX}&{extra}")
    assert magnet.trackers == ("udp://b:1", "http://a/")
    assert magnet.web_seeds == ("http://w/",)


def test_first_display_name_wins_and_bad_utf8_is_replaced() -> None:
    magnet = parse_magnet(f"magnet:?xt=urn:btih:{HEX}&dn=caf%C3%A9&dn=other")
    assert magnet.display_name == "café"
    assert parse_magnet(f"magnet:?xt=urn:btih:{HEX}&dn=a%FFb").display_name == "a\ufffdb"


@pytest.mark.parametrize(
    ("hint", "peer"),
    [
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::1]:65535", ("::1", 65535)),
        ("[0:0:0:0:0:0:0:1]:80", ("::1", 80)),
        ("[::ffff:127.0.0.1]:80", ("::ffff:7f00:1", 80)),
        ("localhost:80", ("localhost", 80)),
        ("a-b.c9.localhost.:80", ("a-b.c9.localhost.", 80)),
    ],
)
def test_peer_hints(hint: str, peer: tuple[str, int]) -> None:
    assert parse_magnet(f"magnet:?xt=urn:btih:{HEX}&x.pe={hint}").peers == (peer,)


@pytest.mark.parametrize(
    "hint",
    [
        "127.0.0.1",
        "127.0.0.1:",
        ":80",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:+80",
        "127.0.0.1:８０",
        "127.0.0.256:80",
        "127.0.0.01:80",
        "::1:80",
        "[::1:80",
        "[::g]:80",
        "-bad.host:80",
        "bad_host:80",
        "a..b:80",
        "höst:80",
    ],
)
def test_malformed_peer_hints(hint: str) -> None:
    with pytest.raises(MagnetError, match="peer address .* is not host:port"):
        parse_magnet(f"magnet:?xt=urn:btih:{HEX}&x.pe={hint}")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "this is not a magnet link: it must start with 'magnet:?'"),
        (f"http://127.0.0.1/?xt=urn:btih:{HEX}", "this is not a magnet link"),
        (f"magnet:xt=urn:btih:{HEX}", "this is not a magnet link"),
        ("magnet:?", "has no BitTorrent info-hash"),
        ("magnet:?dn=x&tr=udp://127.0.0.1:1", "has no BitTorrent info-hash"),
        ("magnet:?xt=urn:sha1:abc", "has no BitTorrent info-hash"),
        ("magnet:?xt=urn:btih:", "neither 40 hexadecimal nor 32 base32"),
        (f"magnet:?xt={HEX}", "has no BitTorrent info-hash"),
        (f"magnet:?xt=urn:btih:{HEX[:-1]}", "neither 40 hexadecimal nor 32 base32"),
        (f"magnet:?xt=urn:btih:{HEX}0", "neither 40 hexadecimal nor 32 base32"),
        (f"magnet:?xt=urn:btih:{HEX[:-1]}g", "neither 40 hexadecimal nor 32 base32"),
        (f"magnet:?xt=urn:btih:{BASE32[:-1]}1", "neither 40 hexadecimal nor 32 base32"),
        (f"magnet:?xt=urn:btih:{HEX[:38]}%20", "neither 40 hexadecimal nor 32 base32"),
        (
            f"magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{'00' * 20}",
            "the magnet link names more than one torrent",
        ),
        (f"magnet:?xt=urn:btmh:1114{'ab' * 20}", "is not '1220' and 64 hexadecimal digits"),
        (f"magnet:?xt=urn:btmh:1220{'ab' * 31}", "is not '1220' and 64 hexadecimal digits"),
        (
            f"magnet:?xt=urn:btmh:1220{'ab' * 32}&xt=urn:btmh:1220{'cd' * 32}",
            "the magnet link names more than one v2 torrent",
        ),
    ],
)
def test_malformed_links_get_one_plain_sentence(uri: str, message: str) -> None:
    with pytest.raises(MagnetError, match=re.escape(message)):
        parse_magnet(uri)


def test_format_round_trips_through_parse() -> None:
    trackers = ("udp://127.0.0.1:6969/announce", "http://127.0.0.1/a?b=c&d=e+f")
    web_seeds = ("http://127.0.0.1/files/",)
    uri = format_magnet(HASH, "a+b & c=d %20 é", trackers, web_seeds)
    assert uri.startswith(f"magnet:?xt=urn:btih:{HEX}&dn=")
    assert parse_magnet(uri) == Magnet(HASH, "a+b & c=d %20 é", trackers, web_seeds, ())


def test_format_with_only_the_hash() -> None:
    assert format_magnet(HASH) == f"magnet:?xt=urn:btih:{HEX}"


def test_format_refuses_a_wrong_length_hash() -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        format_magnet(HASH[:19])


def test_libtorrent_reads_our_links_and_we_read_its_links() -> None:
    ours = format_magnet(HASH, "name é+", ["udp://127.0.0.1:6969"], ["http://127.0.0.1/w"])
    params = lt.parse_magnet_uri(ours)
    assert str(params.info_hashes.v1) == HEX
    assert (params.name, params.trackers, params.url_seeds) == (
        "name é+",
        ["udp://127.0.0.1:6969"],
        ["http://127.0.0.1/w"],
    )
    params.peers = [("127.0.0.1", 6881)]
    theirs = parse_magnet(lt.make_magnet_uri(params))
    assert theirs == Magnet(
        info_hash=HASH,
        display_name="name é+",
        trackers=("udp://127.0.0.1:6969",),
        web_seeds=("http://127.0.0.1/w",),
        peers=(("127.0.0.1", 6881),),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_magnet_error(text: str) -> None:
    with contextlib.suppress(MagnetError):
        parse_magnet(text)
    with contextlib.suppress(MagnetError):
        parse_magnet(f"magnet:?xt=urn:btih:{HEX}&{text}")


parameter_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=20, max_size=20),
    parameter_values.map(str.strip),
    st.lists(parameter_values.map(str.strip).filter(bool), max_size=3, unique=True),
)
def test_format_then_parse_is_identity(info_hash: bytes, name: str, trackers: list[str]) -> None:
    magnet = parse_magnet(format_magnet(info_hash, name, trackers))
    assert (magnet.info_hash, magnet.display_name, magnet.trackers) == (
        info_hash,
        name,
        tuple(trackers),
    )


def test_a_v2_only_link_keys_on_the_truncated_v2_hash() -> None:
    v2 = bytes(range(32))
    magnet = parse_magnet(f"magnet:?xt=urn:btmh:1220{v2.hex()}&dn=x")
    assert (magnet.info_hash, magnet.info_hash_v2, magnet.v2_only) == (v2[:20], v2, True)
    assert format_magnet(magnet.info_hash, "x", info_hash_v2=v2) == f"magnet:?xt=urn:btmh:1220{v2.hex()}&dn=x"


def test_a_hybrid_link_carries_both_hashes() -> None:
    v1, v2 = bytes(range(20)), bytes(range(100, 132))
    link = format_magnet(v1, info_hash_v2=v2)
    assert link == f"magnet:?xt=urn:btih:{v1.hex()}&xt=urn:btmh:1220{v2.hex()}"
    magnet = parse_magnet(link)
    assert (magnet.info_hash, magnet.info_hash_v2, magnet.v2_only) == (v1, v2, False)


def test_libtorrents_v2_and_hybrid_links_parse(tmp_path: Path) -> None:
    from tests.lt_peer import make_torrent, random_tree

    content = random_tree(tmp_path / "c", {"x/a.bin": 50_000})
    for format in ("v2", "hybrid"):
        info = lt.torrent_info(make_torrent(content / "x", piece_size=16384, format=format))
        magnet = parse_magnet(lt.make_magnet_uri(info))
        hashes = info.info_hashes()
        assert magnet.info_hash_v2 == hashes.v2.to_bytes()
        assert magnet.info_hash == (hashes.v2.to_bytes()[:20] if format == "v2" else hashes.v1.to_bytes())
