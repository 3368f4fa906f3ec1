"""The daemon the window last connected to, and the certificates it trusts, kept in QSettings.

The password is kept only if the user ticks "Remember the password"; then it is in the
window's settings file in the user's config folder (readable by the user, not encrypted).
A daemon's TLS certificate is trusted on first use: its SHA-256 fingerprint is kept per
"host:port", and a different one later is refused until the user trusts it again.
"""

from __future__ import annotations

import json
from dataclasses import replace

from PySide6.QtCore import QSettings

from app.rpc.client import RemoteAddress

DEFAULT_RPC_PORT = 9091
_TRUSTED = "remote/trusted_certificates"


def _flag(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def load_address(settings: QSettings) -> tuple[RemoteAddress, bool]:
    """The last daemon connected to (its trusted fingerprint included) and whether the password is remembered."""
    address = RemoteAddress(
        host=str(settings.value("remote/host", "127.0.0.1")),
        port=int(settings.value("remote/port", DEFAULT_RPC_PORT)),
        user=str(settings.value("remote/user", "")),
        password=str(settings.value("remote/password", "")),
        tls=_flag(settings.value("remote/tls", False)),
        ca_file=str(settings.value("remote/ca_file", "")),
    )
    return with_trusted(settings, address), _flag(settings.value("remote/remember_password", False))


def save_address(settings: QSettings, address: RemoteAddress, remember_password: bool) -> None:
    values = {"host": address.host, "port": address.port, "user": address.user, "tls": address.tls,
              "ca_file": address.ca_file, "remember_password": remember_password}
    for key, value in values.items():
        settings.setValue(f"remote/{key}", value)
    if remember_password:
        settings.setValue("remote/password", address.password)
    else:
        settings.remove("remote/password")


def with_trusted(settings: QSettings, address: RemoteAddress) -> RemoteAddress:
    """The address with the fingerprint trusted for its host and port ("" if none yet)."""
    return replace(address, fingerprint=_trusted(settings).get(address.label, "") if address.tls else "")


def trust(settings: QSettings, address: RemoteAddress, fingerprint: str) -> RemoteAddress:
    trusted = _trusted(settings)
    trusted[address.label] = fingerprint
    settings.setValue(_TRUSTED, json.dumps(trusted))
    return replace(address, fingerprint=fingerprint)


def _trusted(settings: QSettings) -> dict[str, str]:
    try:
        value = json.loads(str(settings.value(_TRUSTED, "{}")))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
