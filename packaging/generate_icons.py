"""Render the app icon's SVG into what each platform wants: a hicolor PNG set, .ico, .icns.

    python packaging/generate_icons.py [--source resources/icons/piecemeal.svg] [--out resources/icons]

Rendering uses QtSvg from PySide6-Essentials, so no other tool is needed. The .ico and .icns
containers hold PNG images, which Windows (Vista and later) and macOS (10.7 and later) read.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources" / "icons" / "piecemeal.svg"
OUT = ROOT / "resources" / "icons"
NAME = "piecemeal"

# The freedesktop hicolor theme's usual app sizes (icon-theme spec); 512 for app stores.
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Apple's icns element types that may hold PNG data, with their pixel size.
ICNS_TYPES = (
    (b"icp4", 16),
    (b"ic11", 32),  # 16x16@2x
    (b"icp5", 32),
    (b"ic12", 64),  # 32x32@2x
    (b"ic07", 128),
    (b"ic13", 256),  # 128x128@2x
    (b"ic08", 256),
    (b"ic14", 512),  # 256x256@2x
    (b"ic09", 512),
    (b"ic10", 1024),  # 512x512@2x
)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: Iterable[tuple[int, bytes]]) -> bytes:
    """ICONDIR, one 16-byte ICONDIRENTRY per image, then the PNGs (0 in a size byte means 256)."""
    images = list(pngs)
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries, blobs = b"", b""
    for size, png in images:
        side = size % 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        blobs += png
        offset += len(png)
    return header + entries + blobs


def icns_bytes(elements: Iterable[tuple[bytes, bytes]]) -> bytes:
    """'icns', the total length, then (type, length including this 8-byte header, data)."""
    body = b"".join(kind + struct.pack(">I", 8 + len(data)) + data for kind, data in elements)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def hicolor_path(out: Path, size: int) -> Path:
    return out / "hicolor" / f"{size}x{size}" / "apps" / f"{NAME}.png"


def generate(source: Path, out: Path) -> list[Path]:
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"{source} is not an SVG that Qt can render")
    sizes = sorted(set(HICOLOR_SIZES + ICO_SIZES + tuple(size for _, size in ICNS_TYPES)))
    pngs = {size: png_bytes(render(renderer, size)) for size in sizes}
    written = {hicolor_path(out, size): pngs[size] for size in HICOLOR_SIZES}
    written[out / f"{NAME}.ico"] = ico_bytes((size, pngs[size]) for size in ICO_SIZES)
    written[out / f"{NAME}.icns"] = icns_bytes((kind, pngs[size]) for kind, size in ICNS_TYPES)
    for path, data in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the SVG to render")
    parser.add_argument("--out", type=Path, default=OUT, help="where the icons go")
    options = parser.parse_args(argv)
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path in generate(options.source, options.out):
        print(path)
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
