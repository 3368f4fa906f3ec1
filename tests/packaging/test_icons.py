"""packaging/generate_icons.py renders the app icon's SVG into every size and container."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import QApplication

from tests.packaging.recipes import PACKAGING, RESOURCES

ICONS = RESOURCES / "icons"


def _load_generator() -> ModuleType:
    # packaging/ is a folder of recipes, not a package (it would shadow PyPI's `packaging`).
    spec = importlib.util.spec_from_file_location("generate_icons", PACKAGING / "generate_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_icons = _load_generator()


def _sizes_in(path: Path) -> list[int]:
    reader = QImageReader(str(path))
    sizes = []
    for index in range(reader.imageCount()):
        reader.jumpToImage(index)
        image = reader.read()
        assert image.width() == image.height(), f"{path.name} image {index} is not square"
        sizes.append(image.width())
    return sizes


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, qapp: QApplication) -> Path:
    """Painting needs a QGuiApplication, as in generate_icons.main."""
    out = tmp_path_factory.mktemp("icons")
    generate_icons.generate(ICONS / "piecemeal.svg", out)
    return out


def test_the_hicolor_set_has_every_size(generated: Path) -> None:
    for size in generate_icons.HICOLOR_SIZES:
        image = QImage(str(generate_icons.hicolor_path(generated, size)))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()


def test_the_ico_holds_every_windows_size(generated: Path) -> None:
    assert _sizes_in(generated / "piecemeal.ico") == list(generate_icons.ICO_SIZES)


def test_the_icns_holds_every_macos_size(generated: Path) -> None:
    assert _sizes_in(generated / "piecemeal.icns") == [size for _, size in generate_icons.ICNS_TYPES]


def test_the_icon_is_opaque_in_the_middle_and_clear_in_the_corner(generated: Path) -> None:
    image = QImage(str(generate_icons.hicolor_path(generated, 64)))
    assert image.pixelColor(32, 32).alpha() == 255
    assert image.pixelColor(0, 0).alpha() == 0


@pytest.mark.parametrize("size", [16, 48, 256])
def test_the_committed_icons_match_the_svg(generated: Path, size: int) -> None:
    """Whoever edits the SVG must rerun packaging/generate_icons.py (small rendering noise allowed)."""
    fresh = QImage(str(generate_icons.hicolor_path(generated, size)))
    committed = QImage(str(generate_icons.hicolor_path(ICONS, size)))
    fresh_bytes, committed_bytes = (
        bytes(image.convertToFormat(QImage.Format.Format_ARGB32).constBits())
        for image in (fresh, committed)
    )
    assert len(fresh_bytes) == len(committed_bytes)
    assert max(abs(a - b) for a, b in zip(fresh_bytes, committed_bytes, strict=True)) <= 8
    assert (ICONS / "piecemeal.ico").is_file() and (ICONS / "piecemeal.icns").is_file()
