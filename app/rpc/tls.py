"""TLS for the RPC: the user's certificate, or a self-signed one made on first use.

The generated certificate (ECDSA P-256, ten years) names localhost, 127.0.0.1, ::1 and the
address the RPC listens on; its key is written readable by the owner only. Clients verify
it by its SHA-256 fingerprint, which the daemon logs at start.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT_FILE: Final = "rpc-cert.pem"
KEY_FILE: Final = "rpc-key.pem"
VALID_DAYS: Final = 3650


class TlsError(Exception):
    """The certificate or key cannot be used; the message says which and why."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"Could not use the certificate {cert} with the key {key}: {exc}") from None
    return context


def ensure_certificate(profile: Path, bind: str) -> tuple[Path, Path]:
    """The profile's generated certificate and key, made now if they do not exist yet."""
    cert, key = profile / CERT_FILE, profile / KEY_FILE
    if cert.exists() and key.exists():
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    _write(key, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _write(cert, _self_signed(private, bind).public_bytes(serialization.Encoding.PEM))
    return cert, key


def fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate, as browsers and `openssl x509 -fingerprint -sha256` show it."""
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    return ":".join(f"{b:02X}" for b in certificate.fingerprint(hashes.SHA256()))


def _self_signed(private: ec.EllipticCurvePrivateKey, bind: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Piecemeal remote control")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(bind)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )


def _names(bind: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", "::1"}
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        names.append(x509.DNSName(bind))
    else:
        if bind not in ("0.0.0.0", "::"):
            addresses.add(bind)
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    return names


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
