"""The Linux, Windows and macOS recipes agree: one version, one name, the same file types."""

from __future__ import annotations

from app.ui import licenses
from tests.packaging import recipes

TORRENT_MIME = "application/x-bittorrent"
MAGNET_MIME = "x-scheme-handler/magnet"


def test_every_recipe_has_the_version_from_pyproject() -> None:
    version = recipes.project()["version"]
    plist = recipes.info_plist()
    assert recipes.iss_defines()["AppVersion"] == version
    assert plist["CFBundleShortVersionString"] == version
    assert plist["CFBundleVersion"] == version
    assert recipes.metainfo().find("releases/release").get("version") == version
    # The .deb's version is filled in from pyproject.toml by build_deb.sh.
    assert recipes.control()["Version"] == "@VERSION@"


def test_every_recipe_has_the_same_name_and_command() -> None:
    entry = recipes.desktop_entry()
    plist = recipes.info_plist()
    setup = recipes.iss_setup()
    assert "piecemeal" in recipes.project()["gui-scripts"]
    assert entry["Name"] == plist["CFBundleName"] == setup["AppName"] == "Piecemeal"
    assert recipes.metainfo().findtext("name") == "Piecemeal"
    assert entry["Exec"].split()[0] == plist["CFBundleExecutable"] == "piecemeal"
    assert recipes.iss_defines()["AppExe"] == "piecemeal.exe"
    assert recipes.control()["Package"] == "piecemeal"
    assert entry["Icon"] == "piecemeal"


def test_appstream_and_macos_share_the_app_id_and_desktop_file() -> None:
    component = recipes.metainfo()
    assert component.findtext("id") == recipes.info_plist()["CFBundleIdentifier"]
    assert component.findtext("launchable") == recipes.DESKTOP_FILE.name


def test_linux_declares_torrent_files_and_magnet_links() -> None:
    entry = recipes.desktop_entry()
    assert set(filter(None, entry["MimeType"].split(";"))) == {TORRENT_MIME, MAGNET_MIME}
    assert "%U" in entry["Exec"].split()  # several files and URLs in one launch
    provided = {m.text for m in recipes.metainfo().findall("provides/mediatype")}
    assert provided == {TORRENT_MIME, MAGNET_MIME}
    mime = recipes.MIME_XML.read_text()
    assert f'type="{TORRENT_MIME}"' in mime and 'pattern="*.torrent"' in mime


def test_windows_declares_torrent_files_and_magnet_links() -> None:
    registry = recipes.iss_section("Registry")
    values = {(e["Subkey"], e["ValueName"]): e["ValueData"] for e in registry}
    prog_id = values[(r"Software\Classes\.torrent", "")]
    assert values[(r"Software\Classes\.torrent", "Content Type")] == TORRENT_MIME
    open_torrent = values[(rf"Software\Classes\{prog_id}\shell\open\command", "")]
    open_magnet = values[(r"Software\Classes\magnet\shell\open\command", "")]
    assert open_torrent == open_magnet == r'"{app}\piecemeal.exe" "%1"'
    assert (r"Software\Classes\magnet", "URL Protocol") in values


def test_windows_removes_its_associations_on_uninstall() -> None:
    flags = {e["Subkey"]: e.get("Flags", "") for e in recipes.iss_section("Registry") if "Flags" in e}
    prog_id = recipes.iss_defines()["ProgId"]
    assert "uninsdeletekey" in flags[rf"Software\Classes\{prog_id}"]
    assert "uninsdeletekey" in flags[r"Software\Classes\magnet"]
    assert "uninsdeletevalue" in flags[r"Software\Classes\.torrent"]
    assert all(e["Root"] == "HKA" for e in recipes.iss_section("Registry"))  # per user or all users


def test_macos_declares_torrent_files_and_magnet_links() -> None:
    plist = recipes.info_plist()
    (document,) = plist["CFBundleDocumentTypes"]
    assert document["CFBundleTypeExtensions"] == ["torrent"]
    assert document["CFBundleTypeMIMETypes"] == [TORRENT_MIME]
    (declared,) = plist["UTImportedTypeDeclarations"]
    assert declared["UTTypeIdentifier"] in document["LSItemContentTypes"]
    assert declared["UTTypeTagSpecification"]["public.mime-type"] == [TORRENT_MIME]
    (scheme,) = plist["CFBundleURLTypes"]
    assert scheme["CFBundleURLSchemes"] == ["magnet"]


def test_every_recipe_names_an_icon_that_exists() -> None:
    plist = recipes.info_plist()
    assert (recipes.RESOURCES / "icons" / plist["CFBundleIconFile"]).is_file()
    setup_icon = recipes.iss_setup()["SetupIconFile"].replace("\\", "/")
    assert (recipes.ISS.parent / setup_icon).resolve().is_file()


def test_one_license_everywhere() -> None:
    assert recipes.project()["license"]["text"] == licenses.LICENSE
    assert recipes.metainfo().findtext("project_license") == licenses.LICENSE
    text = (recipes.ROOT / "LICENSE").read_text()
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in text
