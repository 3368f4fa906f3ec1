import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine import bencode
from app.engine.dht import krpc
from app.engine.dht.krpc import (
    AnnouncePeer,
    Error,
    ErrorCode,
    FindNode,
    GetPeers,
    KrpcError,
    NodeInfo,
    Ping,
    Response,
    TransactionIds,
)
from app.engine.errors import LocalProtocolError, RemoteProtocolError

ID_A = bytes(range(20))
ID_B = bytes(range(100, 120))
NODES = (NodeInfo(ID_A, "127.0.0.2", 6881), NodeInfo(ID_B, "127.0.0.3", 1))


@pytest.mark.parametrize(
    "message",
    [
        Ping(b"aa", ID_A),
        Ping(b"aa", ID_A, version=b"LT\x02\x11", ip=("127.0.0.9", 4000)),
        FindNode(b"\x00\x01", ID_A, ID_B),
        GetPeers(b"xyzw", ID_A, ID_B, version=b"UT\x00\x01"),
        AnnouncePeer(b"t1", ID_A, ID_B, 6881, b"token"),
        AnnouncePeer(b"t1", ID_A, ID_B, 6881, b"token", implied_port=True),
        Response(b"t2", ID_B),
        Response(b"t2", ID_B, nodes=NODES),
        Response(b"t2", ID_B, nodes=NODES, values=(("127.0.0.4", 51413),), token=b"tk", ip=("127.0.0.5", 9)),
        Error(b"t3", 201, "A Generic Error Ocurred"),
        Error(b"t3", 204, "Method Unknown", version=b"PM\x00\x01"),
    ],
)
def test_messages_round_trip(message: krpc.Message) -> None:
    assert krpc.decode(krpc.encode(message)) == message


def test_ping_matches_bep5_example() -> None:
    # BEP 5: ping Query = {"t":"aa", "y":"q", "q":"ping", "a":{"id":"abcdefghij0123456789"}}
    datagram = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
    assert krpc.decode(datagram) == Ping(b"aa", b"abcdefghij0123456789")
    assert krpc.encode(Ping(b"aa", b"abcdefghij0123456789")) == datagram


def test_get_peers_response_matches_bep5_example() -> None:
    datagram = (
        b"d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"
    )
    assert krpc.decode(datagram) == Response(
        b"aa",
        b"abcdefghij0123456789",
        values=(("97.120.106.101", 11893), ("105.100.104.116", 28269)),
        token=b"aoeusnth",
    )


def test_error_matches_bep5_example() -> None:
    assert krpc.decode(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee") == Error(
        b"aa", 201, "A Generic Error Ocurred"
    )


def test_announce_peer_encodes_implied_port_as_integer() -> None:
    message = krpc.encode(AnnouncePeer(b"aa", ID_A, ID_B, 0, b"tk", implied_port=True))
    assert bencode.decode(message)[b"a"][b"implied_port"] == 1


def test_implied_port_makes_the_port_argument_irrelevant() -> None:
    query = {b"id": ID_A, b"info_hash": ID_B, b"token": b"tk", b"implied_port": 1}
    decoded = krpc.decode(_query(b"announce_peer", query))
    assert isinstance(decoded, AnnouncePeer) and decoded.implied_port and decoded.port == 0


def test_values_of_both_families_are_read() -> None:
    """BEP 32: an IPv6 peer is 18 bytes, an IPv4 one 6."""
    ipv6 = bytes(15) + b"\x01" + (80).to_bytes(2, "big")
    body = {b"id": ID_A, b"values": [ipv6, bytes([127, 0, 0, 1, 0, 80])]}
    decoded = krpc.decode(bencode.encode({b"t": b"aa", b"y": b"r", b"r": body}))
    assert isinstance(decoded, Response) and decoded.values == (("::1", 80), ("127.0.0.1", 80))


def test_a_value_of_another_length_is_refused() -> None:
    body = {b"id": ID_A, b"values": [bytes(7)]}
    with pytest.raises(KrpcError):
        krpc.decode(bencode.encode({b"t": b"aa", b"y": b"r", b"r": body}))


def test_unknown_keys_are_ignored() -> None:
    query = {b"id": ID_A, b"info_hash": ID_B, b"want": [b"n4", b"n9"], b"noseed": 1}
    assert krpc.decode(_query(b"get_peers", query, ro=1)) == GetPeers(b"aa", ID_A, ID_B, want=(b"n4",))


NODES6 = (NodeInfo(ID_A, "::1", 6881), NodeInfo(ID_B, "2001:db8::5", 1))


def test_nodes6_and_want_round_trip() -> None:
    """BEP 32: IPv6 nodes travel in `nodes6`, 38 bytes each; queries may say what they `want`."""
    response = Response(b"aa", ID_A, nodes=NODES, nodes6=NODES6, ip=("::1", 6881))
    assert krpc.decode(krpc.encode(response)) == response
    assert len(krpc.encode_nodes(NODES6, 6)) == 2 * krpc.NODE6_LENGTH
    for query in (FindNode(b"ab", ID_A, ID_B, want=(b"n4", b"n6")), GetPeers(b"ac", ID_A, ID_B, want=(b"n6",))):
        assert krpc.decode(krpc.encode(query)) == query
    assert response.nodes_of(socket.AF_INET6) == NODES6 and response.nodes_of(socket.AF_INET) == NODES


def test_a_node_of_the_wrong_family_in_a_node_list_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        krpc.encode(Response(b"aa", ID_A, nodes=NODES6))
    with pytest.raises(LocalProtocolError):
        krpc.encode(Response(b"aa", ID_A, nodes6=NODES))


def test_compact_nodes_round_trip() -> None:
    assert krpc.decode_nodes(krpc.encode_nodes(NODES)) == NODES
    assert len(krpc.encode_nodes(NODES)) == 2 * krpc.NODE_LENGTH


def test_encoding_a_non_ip_address_is_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        krpc.encode(Response(b"aa", ID_A, values=(("example.org", 80),)))
    with pytest.raises(LocalProtocolError):
        krpc.encode_peer(("127.0.0.1", 70000))


def test_transaction_ids_are_two_bytes_and_wrap() -> None:
    ids = TransactionIds(0xFFFE)
    assert [ids.next() for _ in range(3)] == [b"\xff\xfe", b"\xff\xff", b"\x00\x00"]


def _query(method: bytes, arguments: object, **extra: object) -> bytes:
    return bencode.encode({b"t": b"aa", b"y": b"q", b"q": method, b"a": arguments, **extra})


def _response(body: object, **extra: object) -> bytes:
    return bencode.encode({b"t": b"aa", b"y": b"r", b"r": body, **extra})


MALFORMED = {
    "not bencode": b"d1:t2:aa",
    "trailing garbage": b"d1:t2:aa1:y1:ree",
    "unsorted keys": b"d1:y1:r1:t2:aa1:rd2:id20:abcdefghij0123456789ee",
    "a list": b"l1:ae",
    "no transaction id": bencode.encode({b"y": b"r", b"r": {b"id": ID_A}}),
    "integer transaction id": bencode.encode({b"t": 1, b"y": b"r", b"r": {b"id": ID_A}}),
    "huge transaction id": bencode.encode({b"t": bytes(33), b"y": b"r", b"r": {b"id": ID_A}}),
    "no type": bencode.encode({b"t": b"aa", b"r": {b"id": ID_A}}),
    "unknown type": bencode.encode({b"t": b"aa", b"y": b"x"}),
    "list as type": bencode.encode({b"t": b"aa", b"y": [b"q"]}),
    "integer version": _response({b"id": ID_A}, v=1),
    "short ip": _response({b"id": ID_A}, ip=b"\x7f\x00\x00\x01"),
    "response without body": bencode.encode({b"t": b"aa", b"y": b"r"}),
    "response with list body": bencode.encode({b"t": b"aa", b"y": b"r", b"r": []}),
    "response without id": _response({}),
    "response with short id": _response({b"id": ID_A[:19]}),
    "nodes not a multiple of 26": _response({b"id": ID_A, b"nodes": bytes(27)}),
    "nodes as a list": _response({b"id": ID_A, b"nodes": [bytes(26)]}),
    "values not a list": _response({b"id": ID_A, b"values": bytes(6)}),
    "value of 5 bytes": _response({b"id": ID_A, b"values": [bytes(5)]}),
    "integer value": _response({b"id": ID_A, b"values": [6]}),
    "integer token": _response({b"id": ID_A, b"token": 5}),
    "error without body": bencode.encode({b"t": b"aa", b"y": b"e"}),
    "error with one item": bencode.encode({b"t": b"aa", b"y": b"e", b"e": [201]}),
    "error with string code": bencode.encode({b"t": b"aa", b"y": b"e", b"e": [b"201", b"x"]}),
    "error with integer message": bencode.encode({b"t": b"aa", b"y": b"e", b"e": [201, 5]}),
}


@pytest.mark.parametrize("datagram", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_messages_raise_krpc_error_and_need_no_reply(datagram: bytes) -> None:
    with pytest.raises(KrpcError) as caught:
        krpc.decode(datagram)
    assert isinstance(caught.value, RemoteProtocolError)
    assert caught.value.reply is None


MALFORMED_QUERIES = {
    "no arguments": bencode.encode({b"t": b"aa", b"y": b"q", b"q": b"ping"}),
    "list arguments": _query(b"ping", []),
    "no id": _query(b"ping", {}),
    "short id": _query(b"ping", {b"id": ID_A[:19]}),
    "no target": _query(b"find_node", {b"id": ID_A}),
    "integer target": _query(b"find_node", {b"id": ID_A, b"target": 5}),
    "no info_hash": _query(b"get_peers", {b"id": ID_A}),
    "long info_hash": _query(b"get_peers", {b"id": ID_A, b"info_hash": ID_B + b"x"}),
    "announce without token": _query(b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": 1}),
    "announce with integer token": _query(
        b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": 1, b"token": 1}
    ),
    "announce without port": _query(b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"token": b"t"}),
    "announce with port 0": _query(
        b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": 0, b"token": b"t"}
    ),
    "announce with port 65536": _query(
        b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": 65536, b"token": b"t"}
    ),
    "announce with string port": _query(
        b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": b"1", b"token": b"t"}
    ),
    "announce with string implied_port": _query(
        b"announce_peer", {b"id": ID_A, b"info_hash": ID_B, b"port": 1, b"token": b"t", b"implied_port": b"1"}
    ),
}


@pytest.mark.parametrize("datagram", MALFORMED_QUERIES.values(), ids=MALFORMED_QUERIES.keys())
def test_malformed_queries_get_a_protocol_error_reply(datagram: bytes) -> None:
    with pytest.raises(KrpcError) as caught:
        krpc.decode(datagram)
    reply = caught.value.reply
    assert reply is not None and reply.transaction_id == b"aa" and reply.code == ErrorCode.PROTOCOL
    assert isinstance(krpc.decode(krpc.encode(reply)), Error)


@pytest.mark.parametrize("method", [b"vote", b"get", b""])
def test_unknown_method_gets_method_unknown_reply(method: bytes) -> None:
    with pytest.raises(KrpcError) as caught:
        krpc.decode(_query(method, {b"id": ID_A}))
    assert caught.value.reply == Error(b"aa", 204, "Method Unknown")


def test_query_method_that_is_not_a_string_is_unknown() -> None:
    with pytest.raises(KrpcError) as caught:
        krpc.decode(_query([b"ping"], {b"id": ID_A}))  # type: ignore[arg-type]
    assert caught.value.reply is not None and caught.value.reply.code == ErrorCode.METHOD_UNKNOWN


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_krpc_error(data: bytes) -> None:
    try:
        krpc.decode(data)
    except KrpcError:
        pass


_bencodable = st.recursive(
    st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.binary(max_size=8), children, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from([b"t", b"y", b"q", b"a", b"r", b"e", b"v", b"ip", b"id", b"nodes", b"values", b"token"])


@given(st.dictionaries(_keys, _bencodable | st.sampled_from([b"q", b"r", b"e", b"ping", b"aa"]), max_size=6))
def test_arbitrary_dictionaries_raise_only_krpc_error(value: dict[bytes, object]) -> None:
    try:
        krpc.decode(bencode.encode(value))
    except KrpcError:
        pass
