"""piecemeal-cli: the engine without a window (info, download, seed, create)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import humanize

from app.engine import events
from app.engine.errors import EngineError
from app.engine.ip_filter_file import load_ip_filter
from app.engine.magnet import Magnet, format_magnet, parse_magnet
from app.engine.metainfo import Metainfo, is_web_seed_url, load_metainfo
from app.engine.peer_address import parse_peer_address
from app.engine.portmap.status import MapState, PortMapStatus
from app.engine.session import DuplicateTorrentError, Session, SessionConfig
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState
from app.engine.transport.mse_transport import Encryption
from app.engine.transport.utp_endpoint import TRANSPORTS
from app.progress_printer import ProgressPrinter

EXIT_USAGE = 2


class CliError(Exception):
    """A problem to tell the user in one sentence, then exit with status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (EngineError, CliError) as exc:
        print(f"piecemeal-cli: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="piecemeal-cli", description="Piecemeal's BitTorrent engine, headless.")
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    talk.add_argument("-q", "--quiet", action="store_true",
                      help="print nothing but errors (for scripts; 'info' still prints what it shows)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="show what a .torrent file contains")
    info.add_argument("torrent", type=Path)
    info.set_defaults(func=cmd_info)

    download = sub.add_parser("download", help="download a torrent, exit when it is complete and verified")
    download.add_argument("torrent", type=Path, help="a .torrent file or a magnet: link")
    download.add_argument("-o", "--output", type=Path, required=True, help="folder to save into")
    download.add_argument("--seed", action="store_true", help="keep seeding after the download")
    download.add_argument("--sequential", action="store_true",
                          help="download in order, the first and last piece of each file first (to preview media)")
    download.add_argument("--select-file", type=_selection, metavar="LIST",
                          help="download only these files, numbered as 'info' lists them, e.g. 1,3-5")
    download.add_argument("--web-seed", action="append", default=[], metavar="URL",
                          help="download from this web seed too (BEP 19: the file's URL, or the folder above the"
                               " torrent's folder ending in '/'); may be given more than once")
    _network_args(download)
    _goal_args(download)
    download.set_defaults(func=cmd_download)

    seed = sub.add_parser("seed", help="check existing data and seed it until interrupted")
    seed.add_argument("torrent", type=Path)
    seed.add_argument("--data", type=Path, required=True, help="folder that holds the torrent's data")
    _network_args(seed)
    _goal_args(seed)
    seed.set_defaults(func=cmd_seed)

    demo = sub.add_parser("demo", help="download from a demo swarm on 127.0.0.x (no internet needed)")
    demo.add_argument("-o", "--output", type=Path, help="folder for the demo (default: a temporary one)")
    demo.set_defaults(func=cmd_demo)

    create = sub.add_parser("create", help="make a .torrent file from a file or folder")
    create.add_argument("path", type=Path)
    create.add_argument("-o", "--output", type=Path, required=True)
    create.add_argument("-t", "--tracker", action="append", default=[], help="tracker URL (repeat for more tiers)")
    create.add_argument("--piece-size", type=_size, help="e.g. 256K, 1M (default: chosen from the size)")
    create.add_argument("--private", action="store_true")
    create.add_argument("--comment", default="")
    create.add_argument("-w", "--web-seed", action="append", default=[])
    create.add_argument(
        "--format", choices=("v1", "v2", "hybrid"), default="hybrid",
        help="v1 (BEP 3), v2 (BEP 52) or hybrid: both, for v1 and v2 clients alike (default: hybrid)",
    )
    create.set_defaults(func=cmd_create)
    return parser


def _network_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=6881, help="listen port (0: any)")
    parser.add_argument("--bind", default="0.0.0.0",
                        help="address to listen on and connect from (default: any, IPv4 and IPv6)")
    parser.add_argument("--peer", action="append", default=[], metavar="HOST:PORT",
                        help="connect to this peer too ([::1]:6881 for IPv6)")
    parser.add_argument("--transport", choices=TRANSPORTS, default="both",
                        help="how to connect to peers: TCP first, then uTP (BEP 29) (both, the default), "
                             "uTP first, then TCP (utp-first), or only one (tcp, utp); peers may connect to "
                             "us over either unless it is tcp")
    parser.add_argument("--no-dht", dest="dht", action="store_false", help="do not use the DHT (BEP 5)")
    parser.add_argument("--no-pex", dest="pex", action="store_false", help="do not exchange peers (BEP 11)")
    parser.add_argument("--no-lsd", dest="lsd", action="store_false",
                        help="do not look for peers on the local network (BEP 14)")
    parser.add_argument("--no-port-mapping", dest="port_mapping", action="store_false",
                        help="do not ask the router to open the listen port (UPnP, NAT-PMP, PCP)")
    parser.add_argument("--dht-bootstrap", action="append", default=[], metavar="HOST:PORT",
                        help="DHT node to join through (default: the well-known public routers)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="remember torrents and progress in DIR: a restart resumes where it stopped")
    parser.add_argument("--save-every", type=float, default=30.0, metavar="SECONDS",
                        help="how often progress is saved to the profile (default 30)")
    parser.add_argument("--down-limit", type=_size, default=0, metavar="RATE",
                        help="download at most this much a second, e.g. 500K (default: no limit)")
    parser.add_argument("--up-limit", type=_size, default=0, metavar="RATE",
                        help="upload at most this much a second, e.g. 500K (default: no limit)")
    parser.add_argument("--max-peers", type=int, metavar="N", help="connect to at most N peers")
    parser.add_argument("--ip-filter", type=Path, metavar="FILE",
                        help="refuse peers in this block list (eMule .dat or PeerGuardian .p2p, maybe gzipped)")
    parser.add_argument("--encryption", choices=[e.value for e in Encryption], default=Encryption.ALLOW.value,
                        help="allow: both, encrypted first (default); require: encrypted only; disable: plaintext only")


def _goal_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed-ratio", type=float, default=0.0, metavar="RATIO",
                        help="stop seeding (and exit) once uploaded / downloaded reaches RATIO")
    parser.add_argument("--seed-time", type=float, default=0.0, metavar="MINUTES",
                        help="stop seeding (and exit) after seeding this many minutes")


def _selection(text: str) -> frozenset[int]:
    """aria2c's style: '1,3-5' -> {1, 3, 4, 5} (numbers from 1)."""
    numbers: set[int] = set()
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            numbers.update(range(int(first), int(last or first) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of file numbers like 1,3-5") from None
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of file numbers like 1,3-5")
    return frozenset(numbers)


def _priorities(meta: Metainfo, selection: frozenset[int]) -> list[int]:
    """Normal for the selected files (numbered without BEP 47 pad files), skip for the others."""
    real = [index for index, entry in enumerate(meta.files) if not entry.padding]
    beyond = sorted(n for n in selection if n > len(real))
    if beyond:
        raise CliError(f"there is no file {beyond[0]}: the torrent has {len(real)} (see 'piecemeal-cli info')")
    chosen = {real[n - 1] for n in selection}
    return [1 if entry.padding or index in chosen else 0 for index, entry in enumerate(meta.files)]


def _size(text: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = units.get(text[-1:], 1)
    try:
        return int(text[:-1] if text[-1:] in units else text) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 256K or 1M") from None


def _peer_limits(max_peers: int | None) -> dict[str, int]:
    return {"max_peers": max_peers, "max_peers_per_torrent": max_peers} if max_peers is not None else {}


def _bootstrap(nodes: list[str]) -> dict[str, tuple[tuple[str, int], ...]]:
    return {"dht_bootstrap": tuple(_peer_address(n) for n in nodes)} if nodes else {}


def _peer_address(text: str) -> tuple[str, int]:
    try:
        return parse_peer_address(text)
    except EngineError as error:
        raise CliError(str(error)) from None


# info


def cmd_info(args: argparse.Namespace) -> int:
    meta = load_metainfo(args.torrent)
    print(f"Name:       {meta.name}")
    print(f"Format:     {meta.format}")
    print(f"Info-hash:  {meta.info_hash_hex}")
    if meta.info_hash_v2 is not None:
        # BEP 52: SHA-256; for a v2-only torrent the info-hash above is its first 20 bytes.
        print(f"v2 hash:    {meta.info_hash_v2.hex()}")
    print(f"Size:       {humanize.naturalsize(meta.total_length, binary=True)} ({meta.total_length:,} bytes)")
    print(f"Pieces:     {meta.num_pieces} x {humanize.naturalsize(meta.piece_length, binary=True)}")
    print(f"Private:    {'yes' if meta.private else 'no'}")
    if meta.comment:
        print(f"Comment:    {meta.comment}")
    files = [entry for entry in meta.files if not entry.padding]
    print(f"Files ({len(files)}):")
    for number, entry in enumerate(files, start=1):
        print(f"  {number:>4}  {humanize.naturalsize(entry.length, binary=True):>10}  {'/'.join(entry.path)}")
    print("Trackers:" if meta.trackers else "Trackers:   none")
    for tier, urls in enumerate(meta.trackers):
        for url in urls:
            print(f"  tier {tier}: {url}")
    return 0


# download and seed


def cmd_download(args: argparse.Namespace) -> int:
    text = str(args.torrent)
    meta: Metainfo | Magnet = parse_magnet(text) if text[:7].lower() == "magnet:" else load_metainfo(args.torrent)
    if isinstance(meta, Metainfo) and args.select_file:
        _priorities(meta, args.select_file)  # a wrong number is an error before anything starts
    for url in args.web_seed:
        if not is_web_seed_url(url):
            raise CliError(f"'{url}' is not an http or https web seed address")
    _prepare_folder(args.output)
    done = _until_goal(args) if args.seed else (lambda s, goal_reached: s.state == TorrentState.SEEDING)
    return asyncio.run(_run(meta, args, args.output, done))


def cmd_seed(args: argparse.Namespace) -> int:
    meta = load_metainfo(args.torrent)
    if not args.data.is_dir():
        raise CliError(f"the data folder '{args.data}' does not exist")
    return asyncio.run(_run(meta, args, args.data, _until_goal(args)))


# When to exit with 0: told the torrent's snapshot, and whether it reached its seeding goal.
Done = Callable[[TorrentSnapshot, bool], bool]


def _until_goal(args: argparse.Namespace) -> Done:
    """Seeding ends only when interrupted, or when the session pauses it at its goal (not at
    a pause for another reason, such as the disk-space guard's)."""
    if args.seed_ratio <= 0 and args.seed_time <= 0:
        return lambda s, goal_reached: False
    return lambda s, goal_reached: goal_reached


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot use the folder '{folder}': {exc.strerror or exc}") from None


def _session_config(args: argparse.Namespace, folder: Path) -> SessionConfig:
    return SessionConfig(listen_host=args.bind, listen_port=args.port, download_dir=folder,
                         profile_dir=args.profile, resume_interval=args.save_every,
                         enable_dht=args.dht, enable_pex=args.pex, enable_lsd=args.lsd, transport=args.transport,
                         port_mapping=args.port_mapping, down_limit=args.down_limit, up_limit=args.up_limit,
                         **_peer_limits(args.max_peers),
                         seed_ratio_limit=args.seed_ratio, seed_time_limit=args.seed_time * 60,
                         encryption=args.encryption, ip_filter_path=args.ip_filter,
                         **_bootstrap(args.dht_bootstrap))


async def _run(meta: Metainfo | Magnet, args: argparse.Namespace, folder: Path, done: Done) -> int:
    if args.ip_filter is not None:  # a file that cannot be read is an error before anything starts
        loaded = await asyncio.to_thread(load_ip_filter, args.ip_filter)
        if not args.quiet:
            print(f"IP filter: {loaded.message}", file=sys.stderr)
    session = Session(_session_config(args, folder))
    printer = _printer(args.quiet)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    selection: frozenset[int] | None = getattr(args, "select_file", None)  # only `download` has these
    metadata = asyncio.Event()
    session.add_listener(lambda event: metadata.set() if isinstance(event, events.MetadataReceived) else None)
    try:
        info_hash = await _start(session, meta, folder, args.peer, choose=selection is not None)
        for url in getattr(args, "web_seed", ()):  # only `download` has these
            await session.add_web_seed(info_hash, url)
        if getattr(args, "sequential", False):
            await session.set_sequential(info_hash, True)
        if selection is not None:
            await _select(session, info_hash, selection, metadata, stop)
        return await _watch(session, info_hash, stop, done, printer)
    finally:
        await session.close()
        printer.close()


async def _select(session: Session, info_hash: str, selection: frozenset[int], metadata: asyncio.Event,
                  stop: asyncio.Event) -> None:
    """Skip the files not selected; a magnet waits, paused, for its metadata to know them."""
    torrent = session.torrents[bytes.fromhex(info_hash)]
    while not torrent.has_metadata and not stop.is_set():
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, metadata)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
    if torrent.has_metadata:
        await session.set_file_priorities(info_hash, _priorities(torrent.metainfo, selection))
        await session.resume(info_hash)


async def _start(session: Session, meta: Metainfo | Magnet, folder: Path, peers: list[str], *,
                 choose: bool) -> str:
    """Start the session and add the torrent; paused if files are to be chosen first."""
    try:
        await session.start()
    except OSError as exc:
        raise CliError(f"cannot listen on port {session.config.listen_port}: {exc.strerror or exc}") from None
    for notice in session.notices:
        print(f"piecemeal-cli: {notice}", file=sys.stderr)
    source = (format_magnet(meta.info_hash, meta.display_name, meta.trackers, meta.web_seeds)
              if isinstance(meta, Magnet) else meta)
    if isinstance(meta, Magnet):
        peers = peers + [f"{host}:{port}" for host, port in meta.peers]
    magnet = isinstance(meta, Magnet)
    try:
        info_hash = await session.add_torrent(source, folder, paused=choose and not magnet,
                                              choose_files=choose and magnet)
    except DuplicateTorrentError:  # restored from the profile: carry on where it stopped
        info_hash = meta.info_hash.hex()
        if not choose or not session.torrents[meta.info_hash].has_metadata:
            await session.resume(info_hash)  # a selection waits for the metadata, then applies
    for text in peers:
        session.add_peer(info_hash, *_peer_address(text))
    return info_hash


async def _watch(session: Session, info_hash: str, stop: asyncio.Event, done: Done,
                 printer: ProgressPrinter) -> int:
    changed = asyncio.Event()  # set by finish/error events, so the exit does not wait for a tick
    goal = asyncio.Event()

    def heard(event: events.Event) -> None:
        changed.set()
        if isinstance(event, events.SeedingGoalReached) and event.info_hash == info_hash:
            goal.set()

    session.add_listener(heard)
    mapping = _PortMappingNote(printer)
    while not stop.is_set():
        whole = session.snapshot()
        mapping.show(whole.port_mapping)
        snap = next(t for t in whole.torrents if t.info_hash == info_hash)
        if snap.reason == StopReason.ERROR:
            raise CliError(snap.error)
        finished = done(snap, goal.is_set())
        printer.show(_progress_line(snap), (snap.state, snap.reason), final=finished)  # a stop is news too
        if finished:
            return 0
        changed.clear()
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, changed)]
        await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    return 0


class _PortMappingNote:
    """Says once, on stderr, what the router answered: 'Port 6881 open through UPnP (…)'."""

    def __init__(self, printer: ProgressPrinter) -> None:
        self._printer, self._said = printer, False

    def show(self, status: PortMapStatus) -> None:
        if self._said or status.state in (MapState.OFF, MapState.TRYING) or self._printer.quiet:
            return
        self._said = True
        print(f"piecemeal-cli: {status.summary}", file=sys.stderr)


def _printer(quiet: bool) -> ProgressPrinter:
    """Progress goes to stdout, so that `piecemeal-cli download ... > log` keeps it."""
    return ProgressPrinter(sys.stdout, quiet=quiet, clock=time.monotonic)


def _progress_line(snap: TorrentSnapshot) -> str:
    eta = humanize.naturaldelta(snap.eta) if snap.eta is not None else "-"
    line = (
        f"{snap.progress:6.1%}  {snap.status_text:<12}  "
        f"down {humanize.naturalsize(snap.down_rate, binary=True)}/s  "
        f"up {humanize.naturalsize(snap.up_rate, binary=True)}/s  "
        f"peers {snap.peers + snap.seeds}  ETA {eta}"
    )
    return line if snap.why is None else f"{line}  — {snap.why.short}"


# demo


def cmd_demo(args: argparse.Namespace) -> int:
    if args.output is None:
        with tempfile.TemporaryDirectory(prefix="piecemeal-demo-") as folder:
            return asyncio.run(_demo(Path(folder), args.quiet))
    _prepare_folder(args.output)
    return asyncio.run(_demo(args.output, args.quiet))


async def _demo(folder: Path, quiet: bool) -> int:
    from app.demo import loopback_session_config, start_demo_swarm

    if not quiet:
        print(f"Starting a demo swarm in {folder} (tracker and seeds on 127.0.0.x) ...", file=sys.stderr)
    printer = _printer(quiet)
    swarm = await start_demo_swarm(folder)
    session = Session(loopback_session_config("127.0.0.1", download_dir=folder / "downloads"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await session.start()
        info_hash = await session.add_torrent(swarm.torrent, folder / "downloads")
        return await _watch(session, info_hash, stop, lambda s, goal_reached: s.state == TorrentState.SEEDING, printer)
    finally:
        await session.close()
        await swarm.close()
        printer.close()


# create


def cmd_create(args: argparse.Namespace) -> int:
    from app.engine.creator import create_torrent

    if not args.path.exists():
        raise CliError(f"'{args.path}' does not exist")
    tiers = [[url] for url in args.tracker]
    data = create_torrent(
        args.path, trackers=tiers, piece_length=args.piece_size, private=args.private,
        comment=args.comment, web_seeds=args.web_seed, format=args.format,
    )
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        raise CliError(f"cannot write '{args.output}': {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
