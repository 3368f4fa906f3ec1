"""Readers for the packaging recipes, so the tests compare what each platform declares."""

from __future__ import annotations

import configparser
import plistlib
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
PACKAGING = ROOT / "packaging"
DESKTOP_FILE = RESOURCES / "piecemeal.desktop"
METAINFO = RESOURCES / "io.github.piecemeal.Piecemeal.metainfo.xml"
MIME_XML = RESOURCES / "piecemeal.mime.xml"
ISS = PACKAGING / "windows" / "piecemeal.iss"
INFO_PLIST = PACKAGING / "macos" / "Info.plist"
CONTROL = PACKAGING / "linux" / "control.in"
MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(DESKTOP_FILE)
    return parser["Desktop Entry"]


def metainfo() -> ET.Element:
    return ET.parse(METAINFO).getroot()


def info_plist() -> dict[str, Any]:
    return plistlib.loads(INFO_PLIST.read_bytes())


def control() -> dict[str, str]:
    """The control template's fields (continuation lines folded into their field)."""
    fields: dict[str, str] = {}
    key = ""
    for line in CONTROL.read_text().splitlines():
        if line.startswith(" "):
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def iss_defines() -> dict[str, str]:
    return dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"', ISS.read_text()))


def iss_section(name: str) -> list[dict[str, str]]:
    """The entries of one [Section] such as [Registry], as dicts of their parameters."""
    return [
        {key: _iss_string(value) for key, value in re.findall(r'(\w+): ("(?:[^"]|"")*"|[^;]*)', line)}
        for line in _iss_lines(name)
    ]


def iss_setup() -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in _iss_lines("Setup"))


def _iss_lines(section: str) -> list[str]:
    """The lines of one [Section], without comments, with {#Define} references expanded."""
    defines = iss_defines()
    lines, current = [], ""
    for line in ISS.read_text().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.strip() and not line.startswith(";"):
            for define, value in defines.items():
                line = line.replace("{#" + define + "}", value)
            lines.append(line)
    return lines


def _iss_string(value: str) -> str:
    """Inno Setup quotes a parameter in "..." and doubles the quotes inside it."""
    value = value.strip()
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('""', '"')
    return value
