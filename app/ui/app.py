"""Start the GUI: QApplication, the qasync loop, the single-instance hand-off, the wiring.

This is the one place that builds the engine session, the bridge and the main window
and connects them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

os.environ["QT_API"] = "pyside6"  # qasync chooses its Qt binding from this when imported

import qasync  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QSettings  # noqa: E402
from PySide6.QtGui import QFileOpenEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.ui.app_log import AppLog, close_log, open_log  # noqa: E402
from app.ui.bridge import EngineBridge  # noqa: E402
from app.ui.collector import MainThreadCollector  # noqa: E402
from app.ui.connection_controller import ConnectionController, ask, tell  # noqa: E402
from app.ui.icons import app_icon  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.remote_settings import load_address  # noqa: E402
from app.ui.session_switch import ClosableSession, SessionSwitch, remote_session  # noqa: E402
from app.ui.settings import Preferences, load_preferences, session_settings  # noqa: E402
from app.ui.single_instance import InstanceServer, absolute_arguments, hand_off  # noqa: E402

if TYPE_CHECKING:
    from app.engine.profile_lock import ProfileBusy
    from app.engine.session import Session
    from app.rpc.remote_session import RemoteSession

log = logging.getLogger(__name__)


class FileOpenFilter(QObject):
    """macOS hands double-clicked .torrent files and magnet links to the running app as events."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            self._window.handle_arguments([event.file() or event.url().toString()])
            return True
        return False


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="piecemeal", description="A desktop BitTorrent client.")
    parser.add_argument(
        "items", nargs="*", metavar="FILE.torrent | magnet-link", help="torrents to add"
    )
    parser.add_argument(
        "--demo", action="store_true",
        help="watch a download from a demo swarm on 127.0.0.x (no internet needed)",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="keep the torrent list and progress in DIR (portable mode) instead of the user data folder",
    )
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    options = parse_arguments(argv[1:])
    items = absolute_arguments(options.items, Path.cwd())
    if options.demo:
        os.environ.setdefault("PIECEMEAL_INSTANCE", "demo")  # a demo never joins the user's window
    elif hand_off(items):
        return 0
    # Other libraries' warnings; our own level comes from Preferences (app/ui/app_log.py).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    app = QApplication(argv[:1])
    app.setApplicationName("Piecemeal")
    app.setOrganizationName("Piecemeal")
    app.setDesktopFileName("piecemeal")
    app.setWindowIcon(app_icon())
    # The tray keeps running with no window shown; quitting is always explicit.
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)
    collector.start()
    server = InstanceServer()
    if not server.listen():
        log.warning("single instance: cannot listen; later launches will open their own window")
    if options.demo:
        return qasync.run(run_demo(server))
    return qasync.run(run_gui(server, items, options.profile))


async def run_demo(server: InstanceServer) -> int:
    """`piecemeal --demo`: a swarm on 127.0.0.x and a loopback-only session watching it."""
    import tempfile

    from app.demo import loopback_session_config, start_demo_swarm
    from app.engine.session import Session

    with tempfile.TemporaryDirectory(prefix="piecemeal-demo-") as scratch:
        folder = Path(scratch)
        settings = QSettings()
        app_log = open_log(folder / "profile", load_preferences(settings).log_level)
        swarm = await start_demo_swarm(folder)
        session = Session(loopback_session_config(
            "127.0.0.1", download_dir=folder / "downloads", profile_dir=folder / "profile"))
        await session.start()
        info_hash = await session.add_torrent(swarm.torrent, folder / "downloads")
        try:
            return await run_window(server, session, "", [], settings, app_log, focus=info_hash)
        finally:
            await swarm.close()
            close_log(app_log)


async def run_gui(server: InstanceServer, items: Sequence[str], profile: Path | None) -> int:
    # asyncio.to_thread (the engine's disk and database work) gets plain threads:
    # qasync's default pool of QThreads has crashed PySide6 when torn down.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(thread_name_prefix="io"))
    from app.engine.profile_lock import WINDOW, ProfileBusy, ProfileLock
    from app.engine.session import default_profile_dir

    settings = QSettings()
    preferences = load_preferences(settings)
    profile_dir = profile or default_profile_dir()
    app_log = open_log(profile_dir, preferences.log_level)
    lock = ProfileLock(profile_dir)

    async def start_local() -> Session:
        """The local engine, once this window holds the profile (a daemon may have it)."""
        lock.acquire(WINDOW)
        return (await _start_session(preferences, profile_dir))[0]

    try:
        try:
            lock.acquire(WINDOW)
        except ProfileBusy as busy:
            remote = await offer_daemon(busy, profile_dir, settings)
            if remote is None:
                return 0
            return await run_window(server, remote, "", items, settings, app_log, start_local=start_local)
        session, problem = await _start_session(preferences, profile_dir)
        return await run_window(server, session, problem, items, settings, app_log, start_local=start_local)
    finally:
        lock.release()
        close_log(app_log)


async def offer_daemon(busy: ProfileBusy, profile_dir: Path, settings: QSettings) -> RemoteSession | None:
    """The daemon that holds the profile, if the user wants to see it (None: quit)."""
    from app.engine.errors import EngineError
    from app.rpc.client import RemoteAddress
    from app.rpc.tls import CERT_FILE, fingerprint

    if not busy.url:
        await tell(None, "Piecemeal", f"Piecemeal cannot start: {busy}.")
        return None
    question = f"A piecemeal-daemon is using the profile {profile_dir}.\n\nShow its torrents here (connect to it at {busy.url})?"
    if not await ask(None, "Piecemeal", question):
        return None
    address = RemoteAddress.from_url(busy.url)
    saved, _ = load_address(settings)
    if saved.label == address.label:
        address = replace(address, user=saved.user, password=saved.password)
    if address.tls and (profile_dir / CERT_FILE).exists():  # the daemon's own certificate: no need to ask
        address = replace(address, fingerprint=fingerprint(profile_dir / CERT_FILE))
    session = remote_session(address)
    try:
        await session.start()
    except EngineError as exc:
        await session.close()
        await tell(None, "Piecemeal", f"Could not show the daemon's torrents: {exc}")
        return None
    return session


async def run_window(
    server: InstanceServer,
    session: Session | RemoteSession,
    problem: str,
    items: Sequence[str],
    settings: QSettings,
    app_log: AppLog,
    focus: str | None = None,
    start_local: Callable[[], Awaitable[ClosableSession]] | None = None,
) -> int:
    """The window over a started session (local, or a daemon's), until the user quits; closes
    every session it showed.

    `focus`: the info-hash of a torrent to select at once, its piece map shown (the demo's).
    `start_local`: how File > Local session starts the engine if the window began with a daemon.
    """
    from app.rpc.remote_session import RemoteSession

    bridge = EngineBridge(session)
    window = MainWindow(bridge, settings, app_log)
    remote = session if isinstance(session, RemoteSession) else None
    switch = SessionSwitch(bridge, None if remote else session, start_local, remote)
    ConnectionController(window, switch)
    server.arguments_received.connect(window.handle_arguments)
    QApplication.instance().installEventFilter(FileOpenFilter(window))
    quitting = asyncio.Event()
    window.quit_requested.connect(quitting.set)
    window.show()
    bridge.start()
    if focus is not None:
        window.show_pieces_of(focus)
    if problem:
        window.show_message("Could not use the listening port", problem)
    for notice in session.notices:
        window.show_message("Piecemeal", notice)
    if items:
        window.handle_arguments(items)
    await quitting.wait()
    bridge.stop()
    await bridge.drain()
    await switch.close()
    server.close()
    return 0


async def _start_session(preferences: Preferences, profile_dir: Path) -> tuple[Session, str]:
    """Start on the chosen port; if it is taken, on any free port, and say so."""
    # Imported here, not at the top: a second launch that only hands off its
    # arguments should not pay for loading the engine.
    from app.engine.session import Session, SessionConfig

    def configured(port: int) -> Session:
        return Session(SessionConfig(**{
            **session_settings(preferences), "listen_port": port, "profile_dir": profile_dir,
        }))

    session = configured(preferences.listen_port)
    try:
        await session.start()
        return session, ""
    except OSError as error:
        port = preferences.listen_port
        problem = f"Port {port} is not available ({error.strerror}); using another one."
    await session.close()
    session = configured(0)
    await session.start()
    return session, problem
