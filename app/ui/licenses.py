"""The licenses the About box shows: Piecemeal's own and those of what the installers bundle.

Why GPL-3.0-or-later is explained at the top of LICENSE. The list below names every
distribution the installers ship (a test checks it against the installed dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

LICENSE = "GPL-3.0-or-later"
LICENSE_NOTE = (
    "Piecemeal is free software: you can redistribute it and/or modify it under the terms "
    "of the GNU General Public License, version 3 or (at your option) any later version. "
    "It comes with absolutely no warranty."
)


@dataclass(frozen=True, slots=True)
class Component:
    name: str  # the Python distribution's name where there is one
    license: str  # SPDX expression
    note: str = ""


THIRD_PARTY: tuple[Component, ...] = (
    Component("Python", "PSF-2.0"),
    Component("Qt", "LGPL-3.0-only", "used under the LGPL as replaceable shared libraries"),
    Component("PySide6-Essentials", "LGPL-3.0-only", "Qt for Python"),
    Component("shiboken6", "LGPL-3.0-only"),
    Component("qasync", "BSD-2-Clause"),
    Component("aiohttp", "Apache-2.0 AND MIT"),
    Component("aiohappyeyeballs", "PSF-2.0"),
    Component("aiosignal", "Apache-2.0"),
    Component("attrs", "MIT"),
    Component("frozenlist", "Apache-2.0"),
    Component("idna", "BSD-3-Clause"),
    Component("multidict", "Apache-2.0"),
    Component("propcache", "Apache-2.0"),
    Component("typing_extensions", "PSF-2.0"),
    Component("yarl", "Apache-2.0"),
    Component("humanize", "MIT"),
    Component("platformdirs", "MIT"),
    Component("cryptography", "BSD-3-Clause", "offered as Apache-2.0 OR BSD-3-Clause; bundles OpenSSL, Apache-2.0"),
    Component("cffi", "MIT"),
    Component("pycparser", "BSD-3-Clause"),
    Component("miniupnpc", "BSD-3-Clause"),
    Component("psutil", "BSD-3-Clause"),
    Component("feedparser", "BSD-2-Clause"),
    Component("feedparser-sgmllib", "PSF-2.0"),
    Component("bencodepy", "GPL-2.0-only"),
)


def about_html() -> str:
    """Piecemeal's license and a list of the bundled components, for a rich-text label."""
    items = "".join(
        f"<li>{escape(c.name)}: {escape(c.license)}{escape(f' ({c.note})' if c.note else '')}</li>"
        for c in THIRD_PARTY
    )
    return (
        f"<p>{escape(LICENSE_NOTE)}</p>"
        f"<p>Piecemeal includes these components, under their own licenses:</p><ul>{items}</ul>"
    )
