"""Categories and tags: the book's rules, then a session that keeps them across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.errors import EngineError
from app.engine.labels import Category, LabelBook, clean_name, clean_tags
from app.engine.metainfo import parse_metainfo
from tests.swarm_helpers import running_session, torrent_snapshot

QUIET = {"enable_dht": False, "enable_lsd": False}


def test_names_are_trimmed_and_checked() -> None:
    assert clean_name("  Linux   ISOs ") == "Linux ISOs"
    for bad, words in (("", "needs a name"), ("a,b", "comma"), ("x" * 65, "at most 64")):
        with pytest.raises(EngineError, match=words):
            clean_name(bad)


def test_tags_are_sorted_without_repeats() -> None:
    assert clean_tags(["b", "A", " b ", "c"]) == ("A", "b", "c")


def test_a_category_has_its_folder_and_unknown_ones_are_refused() -> None:
    book = LabelBook()
    book.add_category("Films", "/data/films")
    book.add_category("Music")
    assert book.categories == (Category("Films", "/data/films"), Category("Music", ""))
    assert book.save_path("Films", Path("/dl")) == Path("/data/films")
    assert book.save_path("Music", Path("/dl")) == Path("/dl")
    assert book.save_path("", Path("/dl")) == Path("/dl")
    with pytest.raises(EngineError, match="no category named 'Books'"):
        book.check_category("Books")


def test_the_book_round_trips_through_its_setting_and_skips_damage() -> None:
    book = LabelBook()
    book.add_category("Films", "/data/films")
    book.add_tags(["new", "linux"])
    again = LabelBook()
    again.load(book.to_setting())
    assert again.categories == book.categories and again.tags == ("linux", "new")
    damaged = LabelBook()
    damaged.load({"categories": {"": "/x", "ok": "/y"}, "tags": ["a,b", "fine"]})
    assert damaged.categories == (Category("ok", "/y"),) and damaged.tags == ("fine",)
    damaged.load("not a mapping")  # type: ignore[arg-type]


def torrent_bytes(tmp_path: Path, name: str) -> bytes:
    content = tmp_path / "content" / name
    content.parent.mkdir(parents=True, exist_ok=True)
    content.write_bytes(name.encode() * 500)
    return create_torrent(content, piece_length=16384)


async def test_a_torrent_added_in_a_category_is_saved_in_its_folder(tmp_path: Path) -> None:
    async with running_session(**QUIET, download_dir=tmp_path / "dl") as session:
        await session.add_category("Films", str(tmp_path / "films"))
        in_category = await session.add_torrent(torrent_bytes(tmp_path, "a"), category="Films")
        chosen_folder = await session.add_torrent(torrent_bytes(tmp_path, "b"), tmp_path / "mine", category="Films")
        snap = torrent_snapshot(session, in_category)
        assert (snap.category, snap.save_path) == ("Films", str(tmp_path / "films"))
        assert torrent_snapshot(session, chosen_folder).save_path == str(tmp_path / "mine")
        with pytest.raises(EngineError, match="no category named"):
            await session.add_torrent(torrent_bytes(tmp_path, "c"), category="Nope")
        assert len(session.torrents) == 2


async def test_labels_survive_a_restart(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    data = torrent_bytes(tmp_path, "a")
    info_hash = parse_metainfo(data).info_hash_hex
    async with running_session(**QUIET, profile_dir=profile) as session:
        await session.add_category("Films", str(tmp_path / "films"))
        await session.add_category("Empty")
        await session.add_torrent(data, tmp_path / "out", paused=True)
        await session.set_category(info_hash, "Films")
        await session.set_tags(info_hash, ["hd", "2024", "hd"])
    async with running_session(**QUIET, profile_dir=profile) as session:
        snap = torrent_snapshot(session, info_hash)
        assert (snap.category, snap.tags) == ("Films", ("2024", "hd"))
        whole = session.snapshot()
        assert [c.name for c in whole.categories] == ["Empty", "Films"]
        assert whole.tags == ("2024", "hd")


async def test_removing_a_category_leaves_its_torrents_without_one(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    data = torrent_bytes(tmp_path, "a")
    async with running_session(**QUIET, profile_dir=profile) as session:
        await session.add_category("Films")
        info_hash = await session.add_torrent(data, tmp_path / "out", paused=True, category="Films")
        await session.remove_category("Films")
        assert torrent_snapshot(session, info_hash).category == ""
        assert session.snapshot().categories == ()
        with pytest.raises(EngineError, match="no category named"):
            await session.set_category(info_hash, "Films")
        await session.set_tags(info_hash, [])
    async with running_session(**QUIET, profile_dir=profile) as session:
        snap = torrent_snapshot(session, info_hash)
        assert (snap.category, snap.tags) == ("", ())
