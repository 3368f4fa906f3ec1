"""The RPC password, kept as an scrypt hash (RFC 7914) and checked in constant time.

Stored as "scrypt$N$r$p$salt$hash" (salt and hash in base64), so the cost can be raised later
without breaking older files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

# RFC 7914 section 2 suggests r=8, p=1; N=2**14 costs about 16 MiB and a few tens of ms.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_MAXMEM: Final = 64 * 1024 * 1024
_SCHEME: Final = "scrypt"


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return "$".join((_SCHEME, str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches the stored hash; a malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        params = int(n), int(r), int(p)
    except ValueError:
        return False
    if scheme != _SCHEME or not expected:
        return False
    try:
        actual = _scrypt(password, salt_bytes, *params)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def same_text(a: str, b: str) -> bool:
    """Constant-time comparison of two strings (user names, session ids)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
