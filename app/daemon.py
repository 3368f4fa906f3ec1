"""piecemeal-daemon: the engine without a window, remote-controlled over Transmission's RPC.

    piecemeal-daemon [--profile DIR] [--rpc-bind ADDR] [--rpc-port N] [--rpc-tls] ...
    piecemeal-daemon set-password [--profile DIR] [--user NAME]    (reads the password from stdin)

It keeps its torrents, progress and settings in the profile, logs to daemon.log there and to
stderr, and on SIGTERM or SIGINT tells the trackers it stops, saves the resume data and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import logging.handlers
import os
import secrets
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from app.engine.errors import EngineError
from app.engine.profile_lock import DAEMON, ProfileBusy, ProfileLock
from app.engine.session import Session, SessionConfig, default_profile_dir
from app.rpc.credentials import hash_password
from app.rpc.guard import is_loopback
from app.rpc.methods import DaemonContext, RpcMethods
from app.rpc.server import RpcServer, ServerOptions
from app.rpc.settings import TRANSPORT_SETTINGS, SettingsError, checked, engine_config, load_settings, save_settings
from app.rpc.stats import Totals, load_totals, save_totals
from app.rpc.tls import TlsError, ensure_certificate, fingerprint, server_context

log = logging.getLogger("piecemeal.daemon")

EXIT_USAGE: Final = 2
LOG_FILE: Final = "daemon.log"
PASSWORD_ENV: Final = "PIECEMEAL_RPC_PASSWORD"


_EPILOG = """\
settings.json in the profile holds, in Transmission's key names, what session-set changes
(download-dir, speed-limit-down, peer-port ...) and what only you may change there:
  rpc-bind-address     default 127.0.0.1; any other address needs a user name and password
  rpc-port             default 9091
  rpc-username         set it, and the password's scrypt hash, with `set-password`
  rpc-host-whitelist   host names (besides localhost and IP addresses) the RPC answers to
  rpc-tls-enabled      HTTPS; rpc-tls-cert and rpc-tls-key name your certificate and key,
                       else one is made on first use (its fingerprint is in daemon.log)
The command-line options override the file for one run; they are not saved.
"""


class DaemonError(Exception):
    """A reason not to start, told in one sentence (exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    profile: Path = (args.profile or default_profile_dir()).expanduser().resolve()
    try:
        if args.command == "set-password":
            return _set_password(profile, args.user)
        with _profile_lock(profile) as lock:
            _log_to(profile, args.verbose)
            return asyncio.run(_serve(args, profile, lock))
    except (DaemonError, SettingsError, TlsError, EngineError) as exc:
        print(f"piecemeal-daemon: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="piecemeal-daemon", description="Piecemeal's engine headless, remote-controlled with Transmission's RPC "
        "(transmission-remote, Transmission Remote GUI, Tremotesf ...).", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="where torrents, progress, settings.json and daemon.log live (default: the user data dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    rpc = parser.add_argument_group("remote control (also in settings.json, as rpc-*)")
    rpc.add_argument("--rpc-bind", metavar="ADDR", help="address to listen on (default 127.0.0.1: this machine only)")
    rpc.add_argument("--rpc-port", type=int, metavar="N", help="port to listen on (default 9091; 0: any free one)")
    rpc.add_argument("--rpc-user", metavar="NAME", help="user name clients must give")
    rpc.add_argument("--rpc-password", metavar="PASSWORD",
                     help=f"password for this run (visible to other users in ps: prefer ${PASSWORD_ENV} "
                          "or 'piecemeal-daemon set-password')")
    rpc.add_argument("--rpc-allow-host", action="append", default=[], metavar="NAME",
                     help="answer requests made to this host name too (repeat for more)")
    rpc.add_argument("--rpc-tls", action="store_true", help="serve HTTPS (with a certificate made on first use "
                     "unless rpc-tls-cert and rpc-tls-key name yours)")
    peers = parser.add_argument_group("peers (also in settings.json)")
    peers.add_argument("--port", type=int, metavar="N", help="peer listen port (0: any)")
    peers.add_argument("--bind", metavar="ADDR", help="address to listen on and connect from")
    peers.add_argument("--download-dir", type=Path, metavar="DIR", help="where new torrents are saved")
    peers.add_argument("--no-dht", action="store_true", help="do not use the DHT (BEP 5)")
    peers.add_argument("--no-lsd", action="store_true", help="do not look for peers on the local network (BEP 14)")
    peers.add_argument("--no-port-mapping", action="store_true",
                       help="do not ask the router to open the peer port (UPnP, NAT-PMP, PCP)")
    peers.add_argument("--no-pex", action="store_true", help="do not exchange peers (BEP 11)")
    peers.add_argument("--transport", choices=tuple(TRANSPORT_SETTINGS),
                       help="connect to peers over TCP first, then uTP (BEP 29) (both, the default), uTP first, "
                            "then TCP (utp-first), or TCP only (tcp); in settings.json: utp-enabled, piecemeal-utp-first")
    peers.add_argument("--watch-dir", type=Path, metavar="DIR",
                       help="add the .torrent files put in DIR (then moved to DIR/added; bad ones to DIR/failed)")
    parser.set_defaults(command="run")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    password = sub.add_parser("set-password", help="set the RPC user name and password (read from stdin)")
    password.add_argument("--user", default="", help="the user name (default: keep the current one)")
    password.add_argument("--profile", type=Path, metavar="DIR", default=argparse.SUPPRESS, help="as above")
    return parser


# running


async def _serve(args: argparse.Namespace, profile: Path, lock: ProfileLock) -> int:
    settings = _overridden(load_settings(profile), args)
    options = _server_options(settings, args, profile)
    session = Session(SessionConfig(profile_dir=profile, **engine_config(settings)))
    await session.start()
    for notice in session.notices:
        log.warning("%s", notice)
    stop = asyncio.Event()
    session_id = secrets.token_urlsafe(36)
    earlier = load_totals(profile)
    context = DaemonContext(session_id, str(profile), lambda changes: _persist(profile, changes), stop.set, earlier)
    methods = RpcMethods(session, settings, context)
    server = RpcServer(methods, options, session_id)
    try:
        await server.start()
    except OSError as exc:
        await session.close()
        raise DaemonError(f"Could not listen for RPC on {options.bind} port {options.port}: {exc.strerror or exc}") from None
    lock.note(DAEMON, server.url)  # where a window refused this profile finds us
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("peers on port %s; RPC on %s%s", session.listen_port, server.url,
             "" if options.login_required else " (no login: this machine only)")
    await stop.wait()
    log.info("stopping: telling the trackers, saving progress")
    await server.close()
    _save_totals(profile, earlier.plus(methods.current_totals()))
    await session.close()
    log.info("stopped")
    return 0


@contextlib.contextmanager
def _profile_lock(profile: Path) -> Iterator[ProfileLock]:
    """One engine per profile (this daemon or a window): two writing the same files and database would corrupt both."""
    lock = ProfileLock(profile)
    try:
        lock.acquire(DAEMON)
    except ProfileBusy as exc:
        raise DaemonError(str(exc)) from None
    try:
        yield lock
    finally:
        lock.release()


def _overridden(settings: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The command line wins over settings.json for this run (it is not saved)."""
    flags = {
        "rpc-bind-address": args.rpc_bind, "rpc-port": args.rpc_port, "rpc-username": args.rpc_user,
        "peer-port": args.port, "bind-address-ipv4": args.bind,
        "download-dir": str(args.download_dir.expanduser().resolve()) if args.download_dir else None,
        "dht-enabled": False if args.no_dht else None, "lpd-enabled": False if args.no_lsd else None,
        "port-forwarding-enabled": False if args.no_port_mapping else None,
        "pex-enabled": False if args.no_pex else None, "rpc-tls-enabled": True if args.rpc_tls else None,
        "watch-dir": str(args.watch_dir.expanduser().resolve()) if args.watch_dir else None,
        "watch-dir-enabled": True if args.watch_dir else None,
        **(TRANSPORT_SETTINGS[args.transport] if args.transport else {}),
    }
    settings.update({key: checked(key, value) for key, value in flags.items() if value is not None})
    settings["rpc-host-whitelist"] = [*settings["rpc-host-whitelist"], *args.rpc_allow_host]
    return settings


def _server_options(settings: dict[str, Any], args: argparse.Namespace, profile: Path) -> ServerOptions:
    if args.rpc_password:
        log.warning("--rpc-password can be read by anyone who lists processes: prefer $%s or set-password", PASSWORD_ENV)
    password = args.rpc_password or os.environ.get(PASSWORD_ENV, "")
    password_hash = hash_password(password) if password else settings["rpc-password"]
    user, bind = settings["rpc-username"], settings["rpc-bind-address"]
    if not is_loopback(bind) and not (user and password_hash):
        raise DaemonError(
            f"the RPC would listen on {bind}, which other machines can reach: set a user name and password "
            "first ('piecemeal-daemon set-password --user NAME'), or keep the default 127.0.0.1")
    context = _tls(settings, profile) if settings["rpc-tls-enabled"] else None
    return ServerOptions(bind=bind, port=settings["rpc-port"], user=user, password_hash=password_hash,
                         extra_hosts=tuple(settings["rpc-host-whitelist"]), ssl_context=context)


def _tls(settings: dict[str, Any], profile: Path) -> Any:
    cert, key = settings["rpc-tls-cert"], settings["rpc-tls-key"]
    if bool(cert) != bool(key):
        raise DaemonError("rpc-tls-cert and rpc-tls-key go together: set both, or neither for a generated certificate")
    cert_path, key_path = (Path(cert), Path(key)) if cert else ensure_certificate(profile, settings["rpc-bind-address"])
    context = server_context(cert_path, key_path)
    log.info("RPC certificate %s, SHA-256 fingerprint %s", cert_path, fingerprint(cert_path))
    return context


def _persist(profile: Path, changes: dict[str, Any]) -> None:
    """session-set's changes into settings.json, over what the file holds (not the command line)."""
    saved = load_settings(profile)
    saved.update(changes)
    save_settings(profile, saved)


def _save_totals(profile: Path, totals: Totals) -> None:
    try:
        save_totals(profile, totals)
    except OSError as exc:
        log.warning("could not save the transfer totals: %s", exc)


def _log_to(profile: Path, verbose: bool) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(profile / LOG_FILE, maxBytes=1_000_000, backupCount=3, encoding="utf-8"),
        logging.StreamHandler(sys.stderr),
    ]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("app.engine").setLevel(logging.WARNING)


# set-password


def _set_password(profile: Path, user: str) -> int:
    settings = load_settings(profile)
    user = user or settings["rpc-username"]
    if not user:
        raise DaemonError("give a user name: piecemeal-daemon set-password --user NAME")
    password = _read_password()
    if not password:
        raise DaemonError("the password is empty")
    settings.update({"rpc-username": user, "rpc-password": hash_password(password)})
    save_settings(profile, settings)
    print(f"piecemeal-daemon: the RPC password for '{user}' is set (restart the daemon to use it)")
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New RPC password: ")
        if getpass.getpass("Again: ") != first:
            raise DaemonError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


if __name__ == "__main__":
    sys.exit(main())
