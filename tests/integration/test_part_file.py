"""Skipped files next to a wanted one are not created: their share of the shared pieces waits in
the part file, and moves into place, without a second download, when the user wants them."""

from __future__ import annotations

from pathlib import Path

from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import PieceState, TorrentState
from app.engine.storage.part_file import part_file_name
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, running_session, wait_for_state

PIECE = 32 * 1024
# Every boundary falls inside a piece: a.bin|b.bin share piece 1, b|c piece 4, c|d piece 6.
SIZES = {"a.bin": 50_000, "b.bin": 100_000, "c.bin": 60_000, "d.bin": 40_000}
NAMES = list(SIZES)
B_C_PIECE = (50_000 + 100_000) // PIECE


def _received(session: Session, info_hash: str) -> list[int]:
    """The piece of every block the leecher receives from a peer, as it arrives."""
    torrent = session.torrents[bytes.fromhex(info_hash)]
    received: list[int] = []
    block_received = torrent.block_received

    def counted(peer, block, data):  # type: ignore[no-untyped-def]
        received.append(block.piece)
        block_received(peer, block, data)

    torrent.block_received = counted  # type: ignore[method-assign]
    return received


def _on_disk(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_skipped_neighbours_stay_in_the_part_file_until_wanted(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "four", SIZES)
    torrent = create_torrent(payload, piece_length=PIECE)
    out = tmp_path / "out"
    async with running_session("127.0.0.2") as seed, running_session("127.0.0.3") as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        part = part_file_name(bytes.fromhex(info_hash))
        await leecher.add_torrent(torrent, out, paused=True)
        served = _received(leecher, info_hash)
        await leecher.set_file_priorities(info_hash, [0, 1, 0, 0])  # file 2 only
        await leecher.resume(info_hash)
        leecher.add_peer(info_hash, "127.0.0.2", seed.listen_port)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        folder = out / "four"
        assert _on_disk(folder) == ["b.bin"] and _on_disk(out) == sorted([part, "four"])
        assert (folder / "b.bin").read_bytes() == (payload / "b.bin").read_bytes()
        assert B_C_PIECE in served
        await leecher.recheck(info_hash)  # the shared pieces are hashed from the file and the part file
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        pieces = leecher.details(info_hash).pieces
        assert pieces[1] == pieces[B_C_PIECE] == PieceState.VERIFIED
        first_round = len(served)

        await leecher.set_file_priorities(info_hash, [0, 1, 1, 0])  # now file 3 too
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert (folder / "c.bin").read_bytes() == (payload / "c.bin").read_bytes()
        assert B_C_PIECE not in served[first_round:]  # its bytes came from the part file
        assert _on_disk(folder) == ["b.bin", "c.bin"]
        assert (out / part).stat().st_size > 0  # a.bin's and d.bin's shares wait there

        await leecher.set_file_priorities(info_hash, [1, 1, 1, 1])
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        for name in NAMES:
            assert (folder / name).read_bytes() == (payload / name).read_bytes(), name
        await eventually(lambda: not (out / part).exists(), "the part file is gone", timeout=30)
        again = [p for p in served[first_round:] if p in (1, B_C_PIECE)]
        assert again == [], f"shared pieces downloaded twice: {again}"

        await leecher.recheck(info_hash)
        checked = await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert checked.progress == 1.0


async def test_the_part_file_moves_with_the_torrent(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "four", SIZES)
    torrent = create_torrent(payload, piece_length=PIECE)
    out, moved = tmp_path / "out", tmp_path / "moved"
    async with running_session("127.0.0.2") as seed, running_session("127.0.0.3") as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        part = part_file_name(bytes.fromhex(info_hash))
        await leecher.add_torrent(torrent, out, paused=True)
        await leecher.set_file_priorities(info_hash, [0, 1, 0, 0])
        await leecher.resume(info_hash)
        received = _received(leecher, info_hash)
        leecher.add_peer(info_hash, "127.0.0.2", seed.listen_port)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)

        await leecher.move_storage(info_hash, moved)
        await eventually(lambda: (s := leecher.move_status(info_hash)) is not None and s.finished, "the move finished", timeout=30)
        assert (moved / part).exists() and not (out / part).exists()
        assert sorted(p.name for p in (moved / "four").iterdir()) == ["b.bin"]
        before = len(received)
        await leecher.set_file_priorities(info_hash, [0, 1, 1, 0])
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert (moved / "four" / "c.bin").read_bytes() == (payload / "c.bin").read_bytes()
        assert B_C_PIECE not in received[before:]

        assert (moved / part).exists()  # a.bin's and d.bin's shares are still there
        await leecher.set_file_priorities(info_hash, [1, 1, 1, 1])
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        for name in NAMES:
            assert (moved / "four" / name).read_bytes() == (payload / name).read_bytes(), name
        await eventually(lambda: not (moved / part).exists(), "the part file is gone", timeout=30)
