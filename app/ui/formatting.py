"""Numbers in the words people read: sizes, rates, durations and dates, all through humanize."""

from __future__ import annotations

import time

import humanize

from app.engine.portmap.status import PortMapStatus


def size(n: int | float) -> str:
    """Binary units, as file managers show them: '1.5 GiB', and '512 B' rather than 'Bytes'."""
    if n < 1024:
        return f"{int(n)} B"
    return humanize.naturalsize(n, binary=True, format="%.1f")


def rate(bytes_per_second: float) -> str:
    """'' for nothing moving keeps idle columns quiet."""
    if bytes_per_second < 1:
        return ""
    return f"{size(bytes_per_second)}/s"


def rate_or_zero(bytes_per_second: float) -> str:
    return rate(bytes_per_second) or "0 B/s"


def duration(seconds: float | None) -> str:
    """'∞' when unknown, as an ETA would read."""
    if seconds is None:
        return "∞"
    return humanize.precisedelta(int(seconds), minimum_unit="seconds", format="%d")


def eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return humanize.naturaldelta(seconds)


def percent(fraction: float) -> str:
    # Show 99.9% rather than a rounded-up 100% until the last piece is verified.
    tenths = int(fraction * 1000) / 10
    return f"{tenths:.1f}%"


def ratio(value: float) -> str:
    return "∞" if value == float("inf") else f"{value:.2f}"


def count(n: int | None) -> str:
    return "" if n is None else humanize.intcomma(n)


def timestamp(when: float | None) -> str:
    if not when:
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))


def ago(when: float | None, now: float) -> str:
    if not when:
        return ""
    return humanize.naturaltime(now - when)


def pieces_text(count_: int, piece_length: int) -> str:
    """'1,024 × 256.0 KiB'."""
    return f"{count(count_)} × {size(piece_length)}"


def sentence(text: str) -> str:
    """An engine message as a sentence: 'the link is bad' -> 'The link is bad.'"""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def port_mapping_details(status: PortMapStatus) -> str:
    """The status bar's tooltip: each open port, and the address peers on the internet see."""
    lines = [f"{m.transport} {m.internal_port} → {m.external_port} ({m.method})" for m in status.mappings]
    if status.external_address:
        lines.append(f"External address: {status.external_address}")
    return "\n".join(lines) or status.summary
