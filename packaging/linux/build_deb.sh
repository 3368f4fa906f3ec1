#!/usr/bin/env bash
# Build Piecemeal's Linux packages from the PyInstaller bundle:
#   OUT/piecemeal_VERSION_ARCH.deb                files under /opt/piecemeal, `piecemeal` and
#                                                 `piecemeal-daemon` on PATH, desktop entry, hicolor
#                                                 icons, AppStream, MIME type, a systemd user unit
#                                                 for the daemon (installed, not enabled)
#   OUT/piecemeal-VERSION-linux-MACHINE.tar.gz    the portable bundle, with the same share/ files
#
#   packaging/linux/build_deb.sh [--bundle DIR] [--out DIR]       (OUT defaults to dist/)
#
# Without --bundle it builds the bundle first with PyInstaller, run by $PYTHON (default
# .venv/bin/python, else python3), which needs Piecemeal's dependencies and pyinstaller.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bundle=""
out="$root/dist"
while (($#)); do
  case "$1" in
    --bundle) bundle=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--bundle DIR] [--out DIR]" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-}
if [ -z "$python" ]; then
  python=python3
  [ -x "$root/.venv/bin/python" ] && python="$root/.venv/bin/python"
fi
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$root/pyproject.toml")
arch=$(dpkg --print-architecture)

if [ -z "$bundle" ]; then
  "$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$work/dist" --workpath "$work/build" "$root/packaging/piecemeal.spec"
  bundle="$work/dist/piecemeal"
fi
[ -x "$bundle/piecemeal" ] || { echo "no PyInstaller bundle in $bundle" >&2; exit 1; }

# The desktop integration files under a share/ directory (/usr/share in the .deb).
install_share() {
  local share=$1 icons="$root/resources/icons" png
  install -Dm644 "$root/resources/piecemeal.desktop" "$share/applications/piecemeal.desktop"
  install -Dm644 "$root/resources/io.github.piecemeal.Piecemeal.metainfo.xml" \
    "$share/metainfo/io.github.piecemeal.Piecemeal.metainfo.xml"
  install -Dm644 "$root/resources/piecemeal.mime.xml" "$share/mime/packages/piecemeal.xml"
  install -Dm644 "$icons/piecemeal.svg" "$share/icons/hicolor/scalable/apps/piecemeal.svg"
  for png in "$icons"/hicolor/*/apps/piecemeal.png; do
    install -Dm644 "$png" "$share/icons/${png#"$icons"/}"
  done
}

# What the bundle takes from the system: PyInstaller leaves out glibc and the graphics
# stack (GL, EGL, XCB; Wayland's libraries are Recommends in control.in), which must be
# the machine's own. The bundle needs at least the glibc it was built against.
glibc=$(ldd --version | awk 'NR == 1 {print $NF}')
depends="libc6 (>= $glibc), libgl1, libegl1, libxcb1"

deb="$work/deb"
mkdir -p "$deb/opt" "$deb/usr/bin" "$deb/DEBIAN"
cp -a "$bundle" "$deb/opt/piecemeal"
# Relative, so that the launcher also works in a package unpacked under another root.
ln -s ../../opt/piecemeal/piecemeal "$deb/usr/bin/piecemeal"
# The same executable runs the daemon when called by this name (packaging/launcher.py).
ln -s ../../opt/piecemeal/piecemeal "$deb/usr/bin/piecemeal-daemon"
# A user unit, not enabled: nothing runs until the user asks (systemctl --user enable ...).
install -Dm644 "$root/packaging/linux/piecemeal-daemon.service" \
  "$deb/usr/lib/systemd/user/piecemeal-daemon.service"
install_share "$deb/usr/share"
install -Dm644 "$root/LICENSE" "$deb/usr/share/doc/piecemeal/copyright"
chmod -R u+rwX,go+rX,go-w "$deb"
installed_size=$(du -sk --exclude=DEBIAN "$deb" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  -e "s/@DEPENDS@/$depends/" "$root/packaging/linux/control.in" > "$deb/DEBIAN/control"
install -m755 "$root/packaging/linux/refresh-caches" "$deb/DEBIAN/postinst"
install -m755 "$root/packaging/linux/refresh-caches" "$deb/DEBIAN/postrm"
# zstd: every dpkg on a system new enough for the bundle's glibc (Debian 12, Ubuntu 22.10
# and later) reads it, and it compresses in a fifth of xz's time for a 10% bigger file.
dpkg-deb --root-owner-group -Zzstd -z9 --build "$deb" "$out/piecemeal_${version}_${arch}.deb"

portable="piecemeal-$version-linux-$(uname -m)"
mkdir -p "$work/tar/$portable"
cp -a "$bundle/." "$work/tar/$portable/"
ln -s piecemeal "$work/tar/$portable/piecemeal-daemon"
install_share "$work/tar/$portable/share"
install -m644 "$root/LICENSE" "$work/tar/$portable/LICENSE"
tar -C "$work/tar" --owner=0 --group=0 -czf "$out/$portable.tar.gz" "$portable"
echo "$out/$portable.tar.gz"
