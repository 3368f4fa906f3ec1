"""Fetching and reading one feed (RSS 2.0 or Atom) over the session's HTTP client.

Fetches are conditional (RFC 9110 §13.1: If-None-Match with the last ETag, If-Modified-Since
with the last Last-Modified), so an unchanged feed costs a 304 and no parsing. A body is
capped in size and a fetch in time. feedparser reads the body in a thread: it is tolerant of
the quirks of real feeds, and a body it cannot make a feed of is a FeedError in plain words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import feedparser  # type: ignore[import-untyped]

from app.engine.errors import EngineError

MAX_FEED: Final = 8 * 1024 * 1024
MAX_TORRENT: Final = 50 * 1024 * 1024  # as a watched folder's .torrent file
TIMEOUT: Final = 30.0  # seconds for a whole fetch
TORRENT_TYPE: Final = "application/x-bittorrent"


class FeedError(EngineError):
    """A feed that could not be fetched or read; the message is for the user."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    key: str  # the item's guid (or its link, or its title): what "seen before" means
    title: str
    link: str  # a .torrent URL or a magnet link; "" when the item has neither


@dataclass(frozen=True, slots=True)
class Fetched:
    """One fetch's outcome: `items` is None when the server said 304 Not Modified."""

    items: tuple[FeedItem, ...] | None
    title: str = ""
    etag: str = ""
    last_modified: str = ""


def _item_link(entry: Any) -> str:
    """A torrent enclosure first, then any magnet or .torrent link, then the item's link."""
    for enclosure in entry.get("enclosures", []):
        href = enclosure.get("href", "")
        if enclosure.get("type") == TORRENT_TYPE or href.lower().startswith("magnet:"):
            return str(href)
    for link in entry.get("links", []):
        href = link.get("href", "")
        if href.lower().startswith("magnet:") or link.get("type") == TORRENT_TYPE:
            return str(href)
    return str(entry.get("link", ""))


def _item(entry: Any) -> FeedItem:
    title = str(entry.get("title", "")).strip()
    link = _item_link(entry)
    return FeedItem(str(entry.get("id") or link or title), title, link)


def parse_feed(body: bytes) -> tuple[str, tuple[FeedItem, ...]]:
    """The feed's title and items; FeedError if the body is not a feed. Blocking."""
    parsed = feedparser.parse(body)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise FeedError(f"The address did not give an RSS or Atom feed ({reason or 'no feed found'}).")
    return str(parsed.feed.get("title", "")), tuple(_item(entry) for entry in parsed.entries)


async def _read_capped(response: aiohttp.ClientResponse, cap: int, what: str) -> bytes:
    too_large = FeedError(f"The {what} is larger than {cap:,} bytes; it was not read.")
    if (response.content_length or 0) > cap:
        raise too_large
    body = await response.content.read(cap + 1)
    if len(body) > cap:
        raise too_large
    return body


def _conditions(etag: str, last_modified: str) -> dict[str, str]:
    headers = {"If-None-Match": etag} if etag else {}
    return headers | ({"If-Modified-Since": last_modified} if last_modified else {})


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str], timeout: float,
               cap: int, what: str) -> tuple[int, bytes, Any]:
    try:
        async with asyncio.timeout(timeout):
            async with http.get(url, headers=headers, allow_redirects=True) as response:
                if response.status == 304:
                    return 304, b"", response.headers
                if response.status != 200:
                    raise FeedError(f"The server answered {response.status} {response.reason or ''}".strip() + ".")
                return 200, await _read_capped(response, cap, what), response.headers
    except TimeoutError:
        raise FeedError(f"The server did not answer within {timeout:g} seconds.") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise FeedError(f"Could not reach the server ({exc or type(exc).__name__}).") from None


async def fetch_feed(http: aiohttp.ClientSession, url: str, etag: str = "", last_modified: str = "",
                     timeout: float = TIMEOUT) -> Fetched:
    """Fetch and read the feed, or learn that it has not changed."""
    status, body, headers = await _get(http, url, _conditions(etag, last_modified), timeout, MAX_FEED, "feed")
    if status == 304:
        return Fetched(None, etag=etag, last_modified=last_modified)
    title, items = await asyncio.to_thread(parse_feed, body)
    return Fetched(items, title, headers.get("ETag", ""), headers.get("Last-Modified", ""))


async def download_torrent(http: aiohttp.ClientSession, url: str, timeout: float = TIMEOUT) -> bytes:
    """An item's .torrent file, capped in size."""
    _, body, _ = await _get(http, url, {}, timeout, MAX_TORRENT, ".torrent file")
    return body
