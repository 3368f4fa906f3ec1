import warnings

import libtorrent as lt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.peer_id import client_name, make_peer_id


def test_our_peer_id_is_azureus_style_and_printable() -> None:
    peer_id = make_peer_id()
    assert len(peer_id) == 20
    assert peer_id.startswith(b"-PM0100-")
    assert peer_id[8:].isalnum()
    assert client_name(peer_id) == "Piecemeal 0.1.0"


def test_peer_ids_are_random() -> None:
    assert len({make_peer_id() for _ in range(50)}) == 50


NAMES = [
    (b"-LT2110-", "libtorrent 2.1.1"),
    (b"-LT1215-", "libtorrent 1.2.1.5"),
    (b"-qB4500-", "qBittorrent 4.5.0"),
    (b"-TR4040-", "Transmission 4.0.4"),
    (b"-TR2920-", "Transmission 2.9.2"),
    (b"-DE13F0-", "Deluge 1.3.15"),
    (b"-UT355W-", "µTorrent 3.5.5.32"),
    (b"-lt0D60-", "rTorrent 0.13.6"),
    (b"-AZ5770-", "Azureus 5.7.7"),
    (b"-BI3100-", "BiglyBT 3.1.0"),
    (b"-PM0100-", "Piecemeal 0.1.0"),
    (b"M7-2-2--", "Mainline 7.2.2"),
    (b"M7-10-3-", "Mainline 7.10.3"),
    (b"T03I--", "BitTornado 0.3.18"),
    (b"S58B-----", "Shadow 5.8.11"),
    (b"A310--", "ABC 3.1.0"),
    (b"exbc\x00\x01", "BitComet"),
    (b"-ML2.7.2-", "MLDonkey"),
    (b"AZ2500BT", "BitTyrant"),
    (b"-XX1234-", "Unknown [-XX1234-]"),
    (b"-LT2110x", "Unknown [-LT2110x]"),
    (b"\x00\x01ab\xff\xfecd", "Unknown [..ab..cd]"),
    (b"\x00" * 8, "Unknown"),
    (b"", "Unknown"),
]


@pytest.mark.parametrize(("prefix", "name"), NAMES)
def test_client_names(prefix: bytes, name: str) -> None:
    assert client_name(prefix.ljust(20, b"\x00")) == name


@pytest.mark.parametrize(
    "peer_id",
    [
        b"-LT2110-",
        b"-qB4500-",
        b"-TR4040-",
        b"-DE13F0-",
        b"-AZ5770-",
        b"-BC0172-",
        b"-KT4130-",
        b"-lt0D60-",
        b"-BT7A00-",
        b"M7-2-2--",
        b"T03I--",
        b"S58B-----",
    ],
)
def test_versions_read_as_libtorrent_reads_them(peer_id: bytes) -> None:
    full = (peer_id + b"abcdefghijklmnopqrst")[:20]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = lt.identify_client(lt.sha1_hash(full))
    assert client_name(full) == theirs


def test_short_ids_still_get_a_name() -> None:
    assert client_name(b"-qB45") == "Unknown [-qB45]"
    assert client_name(bytearray(b"-qB4500-")) == "qBittorrent 4.5.0"


@given(st.binary(max_size=24))
def test_never_raises(peer_id: bytes) -> None:
    assert client_name(peer_id)
