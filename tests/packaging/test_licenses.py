"""The About box names every component the installers ship, and their licenses fit ours."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

from app.ui import licenses
from tests.packaging.recipes import project

# Licenses that may be combined into a GPL-3.0-or-later program (FSF's list).
GPL3_COMPATIBLE = {
    "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "GPL-3.0-or-later", "LGPL-3.0-only",
    "MIT", "PSF-2.0",
}


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _runtime_closure() -> set[str]:
    """Every installed distribution that Piecemeal's dependencies pull in, on this machine."""
    seen: set[str] = set()
    pending = [Requirement(r) for r in project()["dependencies"]]
    while pending:
        requirement = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        if _name(requirement.name) in seen:
            continue
        seen.add(_name(requirement.name))
        pending += [Requirement(r) for r in metadata.requires(requirement.name) or []]
    return seen


def test_every_bundled_distribution_is_listed() -> None:
    listed = {_name(component.name) for component in licenses.THIRD_PARTY}
    assert _runtime_closure() <= listed


def test_the_about_text_names_our_license_and_each_component() -> None:
    html = licenses.about_html()
    assert "GNU General Public License, version 3" in html
    for component in licenses.THIRD_PARTY:
        assert f"{component.name}: {component.license}" in html


def test_the_one_incompatible_component_is_named() -> None:
    """bencodepy (fixed by the project's stack) is GPL-2.0-only, which GPL-3.0 code cannot
    take: until that is settled, About and LICENSE must say so rather than hide it."""
    incompatible = [
        c.name for c in licenses.THIRD_PARTY if not set(c.license.split(" AND ")) <= GPL3_COMPATIBLE
    ]
    assert incompatible == ["bencodepy"]
    assert "bencodepy" in licenses.about_html()
