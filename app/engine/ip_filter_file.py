"""Reading a block list file (plain text or gzip) into an IpFilter, with words for the user."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from app.engine.errors import EngineError
from app.engine.ip_filter import IpFilter, ParsedFilter, parse_ip_filter

GZIP_MAGIC = b"\x1f\x8b"
MAX_FILTER_BYTES = 512 * 1024 * 1024  # unpacked; the biggest public lists are a few tens of MB


@dataclass(frozen=True, slots=True)
class LoadedFilter:
    filter: IpFilter
    rules: int
    skipped: int
    message: str  # what the user reads: how many ranges, and the first bad line if any


def load_ip_filter(path: str | Path) -> LoadedFilter:
    """The block list at `path`; EngineError with a plain sentence if it cannot be read."""
    path = Path(path)
    parsed = parse_ip_filter(_read_text(path))
    return LoadedFilter(parsed.filter, parsed.rules, parsed.skipped, _describe(path, parsed))


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
        if data.startswith(GZIP_MAGIC):
            with gzip.open(path, "rb") as packed:
                data = packed.read(MAX_FILTER_BYTES + 1)
    except FileNotFoundError:
        raise EngineError(f"The IP filter file {path} does not exist.") from None
    except IsADirectoryError:
        raise EngineError(f"The IP filter file {path} is a folder, not a file.") from None
    except OSError as exc:  # permissions, a broken gzip stream (BadGzipFile is an OSError)
        raise EngineError(f"Could not read the IP filter file {path}: {exc.strerror or exc}.") from None
    except (EOFError, zlib.error):
        raise EngineError(f"The IP filter file {path} is a damaged gzip file.") from None
    if len(data) > MAX_FILTER_BYTES:
        raise EngineError(f"The IP filter file {path} is larger than {MAX_FILTER_BYTES // 1024**2} MB.")
    return data.decode("utf-8", errors="replace")  # descriptions may be in any encoding


def _describe(path: Path, parsed: ParsedFilter) -> str:
    rules = "rule" if parsed.rules == 1 else "rules"
    text = f"{parsed.rules} blocking {rules} from {path.name}"
    if parsed.first_bad is not None:
        number, line = parsed.first_bad
        lines = "line was" if parsed.skipped == 1 else "lines were"
        text += f"; {parsed.skipped} malformed {lines} skipped, the first is line {number}: '{line[:80]}'"
    return text + "."
