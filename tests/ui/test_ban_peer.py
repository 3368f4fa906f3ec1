"""Banning a peer from the Peers tab: a real peer is dropped, the ban is kept, the status bar counts."""

from __future__ import annotations

from pathlib import Path

from app.engine.creator import create_torrent
from app.ui.app_log import detached_log
from app.ui.details import DetailsTabs, peer_host
from app.ui.settings import load_preferences
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session
from tests.ui.helpers import until


def test_a_peer_host_is_read_from_its_address():
    assert peer_host("127.0.0.2:6881") == "127.0.0.2"
    assert peer_host("[::1]:6881") == "::1"


async def test_ban_peer_drops_it_and_remembers_it(window, session, settings, tmp_path: Path):
    payload = random_tree(tmp_path / "seed" / "payload", {"a.bin": 200_000})
    torrent = create_torrent(payload, piece_length=32 * 1024)
    info_hash = await session.add_torrent(torrent, payload.parent)
    await session.set_config(up_limit=20_000)  # the other end stays a peer for a while
    async with running_session("127.0.0.5") as other:
        await other.add_torrent(torrent, tmp_path / "other")
        other.add_peer(info_hash, "127.0.0.1", session.listen_port)
        torrent_of = session.torrents[bytes.fromhex(info_hash)]
        await until(lambda: len(torrent_of.peers) == 1)

        window.details.ban_peer.emit("127.0.0.5")
        await until(lambda: not torrent_of.peers)
        assert load_preferences(settings).banned_peers == ("127.0.0.5",)
        other.add_peer(info_hash, "127.0.0.1", session.listen_port)
        await until(lambda: session.snapshot().blocked_connections >= 2)  # the drop, then the refusal
        await until(lambda: window.blocked_label.isVisible() and "Blocked: " in window.blocked_label.text())
        assert not torrent_of.peers


async def test_reload_in_the_preferences_loads_the_block_list(window, session, settings, tmp_path: Path):
    block_list = tmp_path / "list.dat"
    block_list.write_text("010.000.000.000 - 010.000.000.255 , 000 , ten\n")
    window.load_ip_filter(str(block_list))  # what the dialog's Reload button asks
    await until(lambda: "1 blocking rule from" in session.snapshot().ip_filter)
    assert load_preferences(settings).ip_filter_path == str(block_list)
    block_list.write_text("010.000.000.000 - 010.000.000.255 , 000 , ten\n1.1.1.1 - 1.1.1.1 , 0 , one\n")
    window.load_ip_filter(str(block_list))  # the same file, changed since: read again
    await until(lambda: "2 blocking rules" in session.snapshot().ip_filter)
    await until(lambda: window.blocked_label.isVisible() and "2 blocking rules" in window.blocked_label.toolTip())


def test_the_peers_menu_offers_ban_peer(qtbot):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    menu = tabs.peer_menu("[2001:db8::7]:51413")
    ban, _separator, add = menu.actions()
    assert (ban.text(), add.text()) == ("Ban peer", "Add peer…")
    with qtbot.waitSignal(tabs.ban_peer) as banned:
        ban.trigger()
    assert banned.args == ["2001:db8::7"]
