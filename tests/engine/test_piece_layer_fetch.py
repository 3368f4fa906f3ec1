"""BEP 52 piece layers over the wire: our answers (HashServer) checked by our fetcher, and liars caught."""

from __future__ import annotations

import os

import pytest

from app.engine import merkle
from app.engine.errors import RemoteProtocolError
from app.engine.hash_server import HashServer
from app.engine.piece_layer_fetch import PieceLayerFetch
from app.engine.wire.messages import HashReject, Hashes, HashRequest

PIECE = 16 * 1024


def a_file(pieces: int) -> tuple[bytes, bytes]:
    """(pieces root, piece layer) of a file of `pieces` 16 KiB pieces, the last one short."""
    leaves = merkle.block_hashes(os.urandom((pieces - 1) * PIECE + 100))
    layer = merkle.piece_layer(leaves, PIECE)
    return merkle.root_from_layer(layer, PIECE), b"".join(layer)


@pytest.mark.parametrize("pieces", [2, 3, 512, 700, 1500])
def test_every_run_served_is_verified_and_the_layers_come_back_whole(pieces: int) -> None:
    root, layer = a_file(pieces)
    server = HashServer({root: layer}, PIECE)
    fetch = PieceLayerFetch([(root, pieces)], PIECE)
    asked = list(fetch.requests(["peer"], now=0.0))
    assert len(asked) == -(-pieces // 512)
    for peer, request in asked:
        answer = server.answer(request)
        assert isinstance(answer, Hashes)
        fetch.received(peer, answer)
    assert fetch.done and fetch.layers() == {root: layer}


def test_a_wrong_hash_is_the_peers_fault() -> None:
    root, layer = a_file(700)
    fetch = PieceLayerFetch([(root, 700)], PIECE)
    (peer, request), _ = fetch.requests(["liar"], now=0.0)
    answer = HashServer({root: layer}, PIECE).answer(request)
    assert isinstance(answer, Hashes)
    forged = Hashes(*_fields(request), bytes(32) + answer.hashes[32:])
    with pytest.raises(RemoteProtocolError, match="do not lead to the file's pieces root"):
        fetch.received(peer, forged)
    assert not fetch.done


def test_a_reject_or_a_timeout_passes_the_run_to_another_peer() -> None:
    root, _ = a_file(4)
    fetch = PieceLayerFetch([(root, 4)], PIECE)
    [(first, request)] = fetch.requests(["a", "b"], now=0.0)
    fetch.rejected(first, HashReject(*_fields(request)))
    [(second, _)] = fetch.requests(["a", "b"], now=1.0)
    assert second != first
    assert list(fetch.requests(["a", "b"], now=2.0)) == []  # still waiting for `second`
    [(third, _)] = fetch.requests(["a", "b", "c"], now=20.0)
    assert third not in (first, second)


@pytest.mark.parametrize(
    "change",
    [
        {"base_layer": 1},  # the layer above the piece layer has 512 hashes: the range is past it
        {"index": 1},  # not a multiple of the length
        {"length": 3},  # not a power of two
        {"index": 1024},  # past the layer
        {"proof_layers": 10},  # the root itself has no sibling
        {"pieces_root": bytes(32)},  # a file we do not know
    ],
)
def test_requests_we_cannot_or_must_not_answer_are_rejected(change: dict[str, object]) -> None:
    root, layer = a_file(700)  # a piece layer of 1024 hashes with padding: 10 layers below the root
    fields: dict[str, object] = {"pieces_root": root, "base_layer": 0, "index": 512, "length": 512, "proof_layers": 9}
    server = HashServer({root: layer}, PIECE)
    assert isinstance(server.answer(HashRequest(**fields)), Hashes)  # type: ignore[arg-type]
    assert isinstance(server.answer(HashRequest(**{**fields, **change})), HashReject)  # type: ignore[arg-type]


def test_no_more_than_8192_hashes_at_once() -> None:
    hashes = [os.urandom(32) for _ in range(16385)]  # a piece layer of 32768 hashes with padding
    root = merkle.root_from_layer(hashes, PIECE)
    server = HashServer({root: b"".join(hashes)}, PIECE)
    assert isinstance(server.answer(HashRequest(root, 0, 8192, 8192, 14)), Hashes)
    assert isinstance(server.answer(HashRequest(root, 0, 16384, 16384, 14)), HashReject)


def test_a_libtorrent_style_request_of_a_bigger_piece_layer() -> None:
    """64 KiB pieces: the piece layer is 2 layers above the leaves; libtorrent asks base 2."""
    leaves = merkle.block_hashes(os.urandom(10 * 4 * PIECE))
    layer = merkle.piece_layer(leaves, 4 * PIECE)
    root = merkle.root_from_layer(layer, 4 * PIECE)
    answer = HashServer({root: b"".join(layer)}, 4 * PIECE).answer(HashRequest(root, 2, 0, 16, 3))
    assert isinstance(answer, Hashes) and len(answer.hashes) == 32 * 16
    assert isinstance(HashServer({root: b"".join(layer)}, 4 * PIECE).answer(HashRequest(root, 0, 0, 16, 3)), HashReject)


def _fields(request: HashRequest) -> tuple[bytes, int, int, int, int]:
    return request.pieces_root, request.base_layer, request.index, request.length, request.proof_layers
