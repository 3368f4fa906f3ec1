import pytest

from app.engine.errors import EngineError
from app.engine.peer_address import parse_peer_address


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:6881", ("127.0.0.1", 6881)),
        (" [::1]:6881 ", ("::1", 6881)),
        ("[2001:DB8:0::7]:1", ("2001:db8::7", 1)),
        ("peer.example:51413", ("peer.example", 51413)),
    ],
)
def test_addresses_people_write(text: str, address: tuple[str, int]) -> None:
    assert parse_peer_address(text) == address


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("::1:6881", "goes in brackets"),
        ("[::g]:6881", "valid IPv6 address"),
        ("127.0.0.1", "not a peer address"),
        ("127.0.0.1:0", "not a peer address"),
        ("127.0.0.1:65536", "not a peer address"),
        (":6881", "not a peer address"),
        ("[::1]:port", "not a peer address"),
    ],
)
def test_bad_addresses_get_a_sentence(text: str, words: str) -> None:
    with pytest.raises(EngineError, match=words):
        parse_peer_address(text)
