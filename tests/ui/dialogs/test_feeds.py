"""The Feeds window against a real session and a loopback feed."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from app.engine.magnet import format_magnet
from app.ui.bridge import EngineBridge
from app.ui.dialogs.feeds import FeedsDialog
from tests.http_server import serving

MAGNET = format_magnet(bytes.fromhex("cd" * 20), "Show S01E01", [], []).replace("&", "&amp;")
FEED = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback shows</title>'
        f"<item><title>Show S01E01 1080p</title><link>{MAGNET}</link></item>"
        f"<item><title>Unrelated news</title><link>http://127.0.0.1:9/x.html</link></item>"
        f"</channel></rss>")


@pytest.fixture
async def feed_url() -> AsyncIterator[str]:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=FEED, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    async with serving(app) as base:
        yield base + "feed.xml"


async def test_a_rule_made_in_the_window_takes_a_feeds_item(session, feed_url, qtbot, tmp_path):
    bridge = EngineBridge(session)
    dialog = FeedsDialog(bridge)
    qtbot.addWidget(dialog)
    dialog.show()
    rules = dialog.rules_page
    rules.name.setText("Show")
    rules.must_contain.setText("show 1080p")
    rules.episodes.setText("S01E01-")
    rules.save_button.click()
    await bridge.drain()
    assert rules.rules.count() == 1 and rules.rules.item(0).text() == "Show"

    dialog.feeds_page.address.setText(feed_url)
    dialog.feeds_page.add_button.click()
    await bridge.drain()
    dialog.refresh()
    assert dialog.feeds_page.feeds.item(0).text() == "Loopback shows"
    shown = dialog.feeds_page.items
    rows = [(shown.topLevelItem(i).text(0), shown.topLevelItem(i).text(1)) for i in range(shown.topLevelItemCount())]
    assert rows == [("Show S01E01 1080p", "Show"), ("Unrelated news", "—")]  # as the feed lists them
    assert [t.name for t in session.snapshot().torrents] == ["Show S01E01"]
    if os.environ.get("PIECEMEAL_SCREENSHOTS"):
        dialog.grab().save(str(Path(os.environ["PIECEMEAL_SCREENSHOTS"]) / "feeds.png"))
        dialog.tabs.setCurrentIndex(1)
        dialog.grab().save(str(Path(os.environ["PIECEMEAL_SCREENSHOTS"]) / "feed-rules.png"))


async def test_a_bad_rule_is_explained_not_saved(session, qtbot):
    bridge = EngineBridge(session)
    dialog = FeedsDialog(bridge)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.rules_page.name.setText("Broken")
    dialog.rules_page.must_contain.setText("(unclosed")
    dialog.rules_page.regex.setChecked(True)
    dialog.rules_page.save_button.click()
    await bridge.drain()
    assert "bad regular expression" in dialog.rules_page.problem.text()
    assert session.rss_snapshot().rules == ()


async def test_editing_a_selected_rule_renames_it_in_place(session, qtbot):
    bridge = EngineBridge(session)
    dialog = FeedsDialog(bridge)
    qtbot.addWidget(dialog)
    dialog.show()
    rules = dialog.rules_page
    for name in ("First", "Second"):
        rules.new_button.click()
        rules.name.setText(name)
        rules.save_button.click()
        await bridge.drain()
    rules.rules.setCurrentRow(0)
    rules.name.setText("Renamed")
    rules.save_button.click()
    await bridge.drain()
    assert [r.name for r in session.rss_snapshot().rules] == ["Renamed", "Second"]
