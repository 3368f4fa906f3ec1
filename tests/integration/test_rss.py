"""Feeds against a loopback HTTP server: items added by rules, once; 304s; bad and silent feeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from app.engine.creator import create_torrent
from app.engine.magnet import format_magnet
from app.engine.rss import feeds
from app.engine.rss.rules import Rule, RuleError
from app.engine.rss.service import FeedSnapshot
from app.engine.session import Session
from tests.http_server import serving
from tests.swarm_helpers import running_session

SHOW = Rule("The Show", must_contain="show", must_not_contain="cam", episode_filter="S01E01-", category="shows")
MAGNET = format_magnet(bytes.fromhex("ab" * 20), "The Show S01E02", [], [])


@dataclass
class FeedServer:
    """A feed whose items the test changes; ETag-aware, counting its 304 answers."""

    items: list[str] = field(default_factory=list)
    torrents: dict[str, bytes] = field(default_factory=dict)
    not_modified: int = 0
    by_date: bool = False  # validate with Last-Modified instead of an ETag
    never: asyncio.Event = field(default_factory=asyncio.Event)
    base: str = ""

    def add_torrent_item(self, title: str, name: str, data: bytes) -> None:
        self.torrents[name] = data
        url = f"{self.base}t/{name}.torrent"
        self.items.insert(0, f'<item><title>{title}</title><guid>{name}</guid>'
                             f'<enclosure url="{url}" type="application/x-bittorrent" length="{len(data)}"/></item>')

    def add_magnet_item(self, title: str, magnet: str) -> None:
        link = magnet.replace("&", "&amp;")
        self.items.insert(0, f"<item><title>{title}</title><link>{link}</link></item>")

    @property
    def etag(self) -> str:
        return f'"v{len(self.items)}"'

    @property
    def last_modified(self) -> str:
        return f"Mon, 07 Dec 2026 04:{len(self.items):02d}:00 GMT"

    async def feed(self, request: web.Request) -> web.Response:
        header, value = ("Last-Modified", self.last_modified) if self.by_date else ("ETag", self.etag)
        asked = request.headers.get("If-Modified-Since" if self.by_date else "If-None-Match")
        if asked == value:
            self.not_modified += 1
            return web.Response(status=304)
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Shows</title>{"".join(self.items)}</channel></rss>'
        return web.Response(body=body.encode(), content_type="application/rss+xml", headers={header: value})

    async def torrent(self, request: web.Request) -> web.Response:
        return web.Response(body=self.torrents[request.match_info["name"]], content_type="application/x-bittorrent")

    async def malformed(self, request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Not a feed <b>at all", content_type="text/html")

    async def silent(self, request: web.Request) -> web.Response:
        await self.never.wait()  # never answers while the test runs
        return web.Response(status=204)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feeds = FeedServer()
    app = web.Application()
    app.router.add_get("/feed.xml", feeds.feed)
    app.router.add_get("/t/{name}.torrent", feeds.torrent)
    app.router.add_get("/bad.xml", feeds.malformed)
    app.router.add_get("/silent.xml", feeds.silent)
    async with serving(app) as base:
        feeds.base = base
        yield feeds
        feeds.never.set()


def _torrent(tmp_path: Path, name: str) -> bytes:
    payload = tmp_path / "made" / name
    payload.parent.mkdir(exist_ok=True)
    payload.write_bytes(name.encode() * 1000)
    return create_torrent(payload)


def _names(session: Session) -> list[str]:
    return sorted(t.name for t in session.snapshot().torrents)


def _feed(session: Session, url: str) -> FeedSnapshot:
    return next(f for f in session.rss_snapshot().feeds if f.url == url)


@asynccontextmanager
async def _start(tmp_path: Path, interval: float = 3600.0) -> AsyncIterator[Session]:
    async with running_session(profile_dir=tmp_path / "profile", download_dir=tmp_path / "dl",
                               rss_interval=interval) as session:
        session.rss.timeout = 1.0  # the silent feed's wait; nothing is timed by it
        yield session


async def test_a_feed_that_changes_adds_each_new_item_once(server, tmp_path):
    server.add_torrent_item("The Show S01E01 1080p", "show-1", _torrent(tmp_path, "show-1"))
    server.add_torrent_item("Something else entirely", "other", _torrent(tmp_path, "other"))
    url = server.base + "feed.xml"
    async with _start(tmp_path) as session:
        await session.add_category("shows", str(tmp_path / "shows"))
        await session.set_rss_rules([SHOW])
        await session.add_feed(url)
        assert _names(session) == ["show-1"]
        assert session.snapshot().torrents[0].category == "shows"
        assert [(i.title, i.rule) for i in _feed(session, url).items] == [
            ("Something else entirely", ""), ("The Show S01E01 1080p", "The Show")]

        before = server.not_modified  # the schedule's first round may have asked already
        await session.refresh_feeds()  # unchanged: the server answers 304 and nothing moves
        assert server.not_modified > before
        assert _names(session) == ["show-1"]

        server.add_torrent_item("The Show S01E01 720p", "show-1-720", _torrent(tmp_path, "show-1-720"))
        server.add_magnet_item("The Show S01E02 1080p", MAGNET)
        server.add_torrent_item("The Show S01E03 CAM", "show-3-cam", _torrent(tmp_path, "show-3-cam"))
        await session.refresh_feeds()
        assert _names(session) == ["The Show S01E02", "show-1"]  # the magnet; S01E01 not twice
        assert {i.title: i.rule for i in _feed(session, url).items}["The Show S01E01 720p"] == ""
        assert _feed(session, url).error == ""


async def test_bad_and_silent_feeds_say_why_and_the_others_go_on(server, tmp_path):
    url, bad, silent = (server.base + name for name in ("feed.xml", "bad.xml", "silent.xml"))
    async with _start(tmp_path) as session:
        await session.set_rss_rules([Rule("all")])
        for feed in (url, bad, silent):
            await session.add_feed(feed)
        assert _feed(session, bad).error.startswith("The address did not give an RSS or Atom feed")
        assert _feed(session, silent).error == "The server did not answer within 1 seconds."
        assert _names(session) == []

        server.add_torrent_item("Linux ISO", "linux", _torrent(tmp_path, "linux"))
        await session.refresh_feeds()
        assert _names(session) == ["linux"]
        assert _feed(session, url).error == ""
        assert _feed(session, silent).error == "The server did not answer within 1 seconds."
        assert "Traceback" not in _feed(session, bad).error


async def test_feeds_rules_and_seen_items_outlive_a_restart(server, tmp_path):
    server.add_torrent_item("The Show S01E01", "show-1", _torrent(tmp_path, "show-1"))
    url = server.base + "feed.xml"
    async with _start(tmp_path) as session:
        await session.add_category("shows", str(tmp_path / "shows"))
        await session.set_rss_rules([SHOW])
        await session.add_feed(url)
        await session.remove(session.snapshot().torrents[0].info_hash)  # the user removed it
    async with _start(tmp_path) as session:
        await session.refresh_feeds()
        assert session.rss_snapshot().rules == (SHOW,)
        assert [f.url for f in session.rss_snapshot().feeds] == [url]
        assert _names(session) == []  # seen before the restart: not added again


async def test_feeds_are_refreshed_on_schedule_with_if_modified_since(server, tmp_path):
    server.by_date = True
    server.add_magnet_item("The Show S01E02", MAGNET)
    async with _start(tmp_path, interval=0.05) as session:
        await session.add_feed(server.base + "feed.xml")
        async with asyncio.timeout(20):  # fails the test if the schedule never comes round
            while server.not_modified < 2:
                await asyncio.sleep(0.02)
        assert _feed(session, server.base + "feed.xml").error == ""


async def test_a_feed_past_the_size_cap_is_refused(server, tmp_path, monkeypatch):
    monkeypatch.setattr(feeds, "MAX_FEED", 1000)
    server.add_magnet_item("The Show S01E02 " + "padding " * 200, MAGNET)
    async with _start(tmp_path) as session:
        await session.set_rss_rules([Rule("all")])
        await session.add_feed(server.base + "feed.xml")
        assert _feed(session, server.base + "feed.xml").error == "The feed is larger than 1,000 bytes; it was not read."
        assert _names(session) == []


async def test_rules_with_one_name_are_refused(tmp_path):
    async with _start(tmp_path) as session:
        with pytest.raises(RuleError, match="Two rules are named 'a'"):
            await session.set_rss_rules([Rule("a"), Rule("b"), Rule("a", "x")])
        assert session.rss_snapshot().rules == ()
