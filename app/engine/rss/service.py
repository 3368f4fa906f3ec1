"""The feeds' schedule: refresh every feed, apply the rules, add what they take.

Every `interval` seconds each feed is fetched (conditionally, see feeds.py); a new item (one
whose key the feed has not shown before) that a rule takes is added to the session, its
.torrent file downloaded first or its magnet link given as it is. One feed's failure is kept
as its last error in plain words and the others go on; an item a rule took but that could
not be added (a dead .torrent link) is said on its feed and not tried again. Feeds, rules,
seen items and taken episodes live in the store's settings under one key, so a restart
neither forgets a rule nor adds an item twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import aiohttp

from app.engine.errors import EngineError
from app.engine.rss.feeds import FeedItem, download_torrent, fetch_feed
from app.engine.rss.rules import Rule, RuleError, check, choose, taken_key
from app.engine.ticker import Ticker

log = logging.getLogger(__name__)

SETTING: Final = "rss"
MAX_ITEMS: Final = 200  # items remembered per feed; older ones are forgotten (but stay seen)
MAX_SEEN: Final = 2000


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    title: str
    link: str
    rule: str  # the rule that took it; "" none


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    url: str
    title: str
    error: str  # the last refresh's failure in plain words; "" when it went well
    items: tuple[ItemSnapshot, ...]


@dataclass(frozen=True, slots=True)
class RssSnapshot:
    feeds: tuple[FeedSnapshot, ...]
    rules: tuple[Rule, ...]


@dataclass(slots=True)
class _Feed:
    url: str
    title: str = ""
    error: str = ""
    etag: str = ""
    last_modified: str = ""
    items: list[ItemSnapshot] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


# Adds a .torrent (bytes) or a magnet link (str) with a save path ("" default) and category.
AddTorrent = Callable[[bytes | str, str, str], Awaitable[object]]


class RssService:
    def __init__(self, http: Callable[[], aiohttp.ClientSession | None], add: AddTorrent,
                 load: Callable[[], Any], save: Callable[[Any], None], interval: float = 1800.0,
                 timeout: float = 30.0) -> None:
        self._http, self._add, self._load, self._save = http, add, load, save
        self.interval = interval
        self.timeout = timeout
        self._feeds: dict[str, _Feed] = {}
        self._rules: tuple[Rule, ...] = ()
        self._taken: list[str] = []
        self._refreshing = asyncio.Lock()
        self._ticker = Ticker(self.refresh, lambda: self.interval, log, "refreshing the feeds failed", at_once=True)

    # lifecycle

    def start(self) -> None:
        self._restore(self._load() or {})
        self._ticker.start()

    async def close(self) -> None:
        await self._ticker.close()

    # commands

    def snapshot(self) -> RssSnapshot:
        feeds = tuple(FeedSnapshot(f.url, f.title, f.error, tuple(f.items)) for f in self._feeds.values())
        return RssSnapshot(feeds, self._rules)

    async def add_feed(self, url: str) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise EngineError(f"'{url}' is not an http or https address.")
        if url in self._feeds:
            return
        async with self._refreshing:  # never beside a scheduled round reading the same feed
            self._feeds[url] = _Feed(url)
            self._persist()
            await self._refresh_feed(self._feeds[url])

    def remove_feed(self, url: str) -> None:
        self._feeds.pop(url, None)
        self._persist()

    def set_rules(self, rules: Sequence[Rule]) -> None:
        for rule in rules:
            check(rule)
        names = [rule.name for rule in rules]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise RuleError(f"Two rules are named '{twice[0]}'; each rule needs its own name.")
        self._rules = tuple(rules)
        self._persist()

    async def refresh(self) -> None:
        """One round over every feed, at the same time (a slow one does not hold the rest)."""
        async with self._refreshing:
            await asyncio.gather(*(self._refresh_feed(f) for f in list(self._feeds.values())))

    # one feed

    async def _refresh_feed(self, feed: _Feed) -> None:
        http = self._http()
        if http is None:
            return
        try:
            fetched = await fetch_feed(http, feed.url, feed.etag, feed.last_modified, self.timeout)
        except EngineError as exc:
            feed.error = str(exc)
            return
        feed.error, feed.etag, feed.last_modified = "", fetched.etag, fetched.last_modified
        if fetched.items is not None:
            feed.title = fetched.title or feed.title
            for item in reversed(fetched.items):  # oldest first: episodes are taken in order
                await self._consider(feed, item)
        self._persist()

    async def _consider(self, feed: _Feed, item: FeedItem) -> None:
        if item.key in feed.seen:
            return
        feed.seen = (feed.seen + [item.key])[-MAX_SEEN:]
        rule = choose(self._rules, item.title, self._taken)
        taken_by = rule.name if rule is not None and item.link and await self._take(feed, item, rule) else ""
        feed.items = ([ItemSnapshot(item.title, item.link, taken_by)] + feed.items)[:MAX_ITEMS]

    async def _take(self, feed: _Feed, item: FeedItem, rule: Rule) -> bool:
        try:
            source: bytes | str = item.link
            if not item.link.lower().startswith("magnet:"):
                http = self._http()
                assert http is not None
                source = await download_torrent(http, item.link, self.timeout)
            await self._add(source, rule.save_path, rule.category)
        except EngineError as exc:
            feed.error = f"Could not add '{item.title}': {exc}"
            return False
        key = taken_key(rule, item.title)
        if key is not None:
            self._taken.append(key)
        return True

    # persistence: JSON in the store's settings

    def _persist(self) -> None:
        feeds = [{"url": f.url, "title": f.title, "etag": f.etag, "last_modified": f.last_modified,
                  "seen": f.seen, "items": [asdict(i) for i in f.items]} for f in self._feeds.values()]
        try:
            self._save({"feeds": feeds, "rules": [asdict(r) for r in self._rules], "taken": self._taken})
        except EngineError as exc:
            log.warning("could not save the feeds: %s", exc)

    def _restore(self, saved: dict[str, Any]) -> None:
        for entry in saved.get("feeds", []):
            items = [ItemSnapshot(**i) for i in entry.get("items", [])]
            feed = _Feed(entry["url"], entry.get("title", ""), "", entry.get("etag", ""),
                         entry.get("last_modified", ""), items, list(entry.get("seen", [])))
            self._feeds[feed.url] = feed
        self._rules = tuple(Rule(**r) for r in saved.get("rules", []))
        self._taken = list(saved.get("taken", []))
