"""The window's commands as Transmission-RPC arguments (RPC spec 3.2, 3.4, 4.1.2), pure.

The engine's units go in (bytes per second, seconds, file priorities 0/1/2); Transmission's
come out (kB/s of 1000 bytes, `files-wanted`, `priority-high` ...). What Transmission has no
name for goes under Piecemeal's own `piecemeal-` names, which a Piecemeal daemon reads.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from app.engine.bencode import encode
from app.engine.metainfo import Metainfo
from app.engine.rate_limit import AltSchedule
from app.engine.torrent_options import HIGH, SKIP, TorrentOptions
from app.engine.transport.mse_transport import Encryption
from app.rpc.fields import PIECEMEAL
from app.rpc.settings import EVERY_DAY, KB, TRANSPORT_SETTINGS


def torrent_file(meta: Metainfo) -> bytes:
    """A .torrent for `meta`: its info dictionary byte for byte (the info-hash stays), BEP 3/12/19 keys around it."""
    before: dict[str, Any] = {"comment": meta.comment, "created by": meta.created_by}
    if meta.trackers:
        before["announce"] = meta.trackers[0][0]
        before["announce-list"] = [list(tier) for tier in meta.trackers]
    if meta.creation_date is not None:
        before["creation date"] = meta.creation_date
    head = encode({key: value for key, value in before.items() if value != ""})[:-1]
    tail = encode({"url-list": list(meta.url_list)})[1:] if meta.url_list else b"e"
    return head + b"4:info" + meta.raw_info + tail  # BEP 3: keys sorted, "info" after "creation date"


def file_arguments(priorities: Sequence[int]) -> dict[str, list[int]]:
    """Ours (0 skip, 1 normal, 2 high) as wanted/unwanted and high/normal lists of file indices."""
    lists: dict[str, list[int]] = {
        "files-wanted": [i for i, p in enumerate(priorities) if p != SKIP],
        "files-unwanted": [i for i, p in enumerate(priorities) if p == SKIP],
        "priority-high": [i for i, p in enumerate(priorities) if p == HIGH],
        "priority-normal": [i for i, p in enumerate(priorities) if p not in (SKIP, HIGH)],
    }
    return {key: indices for key, indices in lists.items() if indices}  # an empty list means "all files"


def option_arguments(options: TorrentOptions) -> dict[str, Any]:
    """torrent-set's arguments for all of a torrent's own options."""
    arguments: dict[str, Any] = {
        "sequentialDownload": options.sequential,
        "downloadLimited": bool(options.down_limit),
        "uploadLimited": bool(options.up_limit),
        "seedRatioMode": _ratio_mode(options.ratio_limit),
        PIECEMEAL + "seed-time-limit": options.seed_time_limit,
    }
    if options.down_limit:
        arguments["downloadLimit"] = _kb(options.down_limit)
    if options.up_limit:
        arguments["uploadLimit"] = _kb(options.up_limit)
    if options.ratio_limit:
        arguments["seedRatioLimit"] = options.ratio_limit
    if options.file_priorities:
        arguments.update(file_arguments(options.file_priorities))
    return arguments


def _ratio_mode(goal: float | None) -> int:
    """tr_ratiolimit: 0 the session's goal, 1 the torrent's own, 2 never stop."""
    return 0 if goal is None else (2 if goal == 0 else 1)


def _kb(rate: int) -> int:
    return max(1, round(rate / KB))


def add_arguments(source: bytes | str, save_path: str | Path | None, paused: bool) -> dict[str, Any]:
    """torrent-add's: a .torrent's bytes in base64 `metainfo`, or a magnet link as `filename`."""
    arguments: dict[str, Any] = {"paused": paused}
    if isinstance(source, bytes):
        arguments["metainfo"] = base64.b64encode(source).decode("ascii")
    else:
        arguments["filename"] = source
    if save_path:
        arguments["download-dir"] = str(save_path)
    return arguments


# session-set (RPC spec 4.1.2) from SessionConfig fields


def _limit(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda rate: {f"{name}-enabled": bool(rate), **({name: _kb(rate)} if rate else {})}


def _queue(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda size: {f"{name}-enabled": bool(size), **({f"{name}-size": size} if size else {})}


def _alt(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda rate: {name: _kb(rate)} if rate else {}


def _schedule(schedule: AltSchedule | None) -> dict[str, Any]:
    if schedule is None:
        return {"alt-speed-time-enabled": False}
    # tr_sched_day bits: 1 Sunday, 2 Monday ... 64 Saturday; weekday() 0 is Monday.
    bits = sum(1 << ((day + 1) % 7) for day in schedule.days) or EVERY_DAY
    return {"alt-speed-time-enabled": True, "alt-speed-time-begin": schedule.start_minute,
            "alt-speed-time-end": schedule.end_minute, "alt-speed-time-day": bits}


# The engine's policies in Transmission's words (app/rpc/settings.py ENCRYPTION the other way);
# "disable" has none: Transmission's nearest, "tolerated", still accepts encrypted peers.
_ENCRYPTION_WORDS: Final = {Encryption.REQUIRE: "required", Encryption.ALLOW: "preferred"}


def _encryption(policy: Any) -> dict[str, Any] | None:
    words = _ENCRYPTION_WORDS.get(Encryption(policy))
    return {"encryption": words} if words is not None else None


def _seed_ratio(goal: Any) -> dict[str, Any]:
    return {"seedRatioLimited": bool(goal), **({"seedRatioLimit": float(goal)} if goal else {})}


_SETTINGS: Final[dict[str, Callable[[Any], dict[str, Any] | None]]] = {
    "download_dir": lambda folder: {"download-dir": str(folder)},
    "listen_port": lambda port: {"peer-port": port},
    "max_peers": lambda count: {"peer-limit-global": count},
    "max_peers_per_torrent": lambda count: {"peer-limit-per-torrent": count},
    "enable_dht": lambda on: {"dht-enabled": on},
    "enable_pex": lambda on: {"pex-enabled": on},
    "enable_lsd": lambda on: {"lpd-enabled": on},
    "down_limit": _limit("speed-limit-down"),
    "up_limit": _limit("speed-limit-up"),
    "alt_down_limit": _alt("alt-speed-down"),
    "alt_up_limit": _alt("alt-speed-up"),
    "alt_limits_on": lambda on: {"alt-speed-enabled": on},
    "alt_schedule": _schedule,
    "max_active_downloads": _queue("download-queue"),
    "max_active_seeds": _queue("seed-queue"),
    "seed_ratio_limit": _seed_ratio,
    "transport": TRANSPORT_SETTINGS.get,  # None for "utp": uTP only has no settings that say it
    "encryption": _encryption,
}

DISABLED_ENCRYPTION: Final = ("encryption to disabled (Transmission's remote control has required, preferred "
                              "and tolerated, and tolerated still accepts encrypted peers)")
# SessionConfig fields (or values of them) the remote control does not change, in the words the message uses.
UNSUPPORTED_SETTINGS: Final = {
    "listen_host": "the listening address",
    "transport": "the transport to uTP only",  # the daemon takes TCP only, TCP first or uTP first
    "encryption": DISABLED_ENCRYPTION,  # the only policy without Transmission's words
    "seed_time_limit": "the seeding time goal",
    "disk_reserve": "the disk space to keep free",
}


def session_arguments(changes: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """session-set's arguments for the changes it can make, and the words for those it cannot."""
    arguments: dict[str, Any] = {}
    refused = []
    for name, value in changes.items():
        convert = _SETTINGS.get(name)
        converted = convert(value) if convert is not None else None
        if converted is None:
            refused.append(UNSUPPORTED_SETTINGS.get(name, name.replace("_", " ")))
        else:
            arguments.update(converted)
    return arguments, refused
