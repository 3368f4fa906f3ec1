"""announce_peer write tokens (BEP 5), pure: the caller passes `now`.

BEP 5: "the BitTorrent implementation uses the SHA1 hash of the IP address concatenated onto
a secret that changes every five minutes and tokens up to ten minutes old are accepted."
So a token is valid under the current secret or the one before it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

ROTATE_INTERVAL = 300.0  # BEP 5: the secret "changes every five minutes"
SECRET_LENGTH = 20
TOKEN_LENGTH = 8


class TokenKeeper:
    """Hands out tokens for an IP address and checks the ones that come back."""

    def __init__(self, now: float, random_bytes: Callable[[int], bytes] = os.urandom) -> None:
        self._random_bytes = random_bytes
        self._current = random_bytes(SECRET_LENGTH)
        self._previous = random_bytes(SECRET_LENGTH)
        self._rotated_at = now

    def token_for(self, ip: str, now: float) -> bytes:
        self._rotate(now)
        return _token(self._current, ip)

    def is_valid(self, token: bytes, ip: str, now: float) -> bool:
        self._rotate(now)
        return any(hmac.compare_digest(token, _token(secret, ip)) for secret in (self._current, self._previous))

    def _rotate(self, now: float) -> None:
        intervals = int((now - self._rotated_at) // ROTATE_INTERVAL)
        if intervals <= 0:
            return
        # After more than one interval (a suspended laptop) the old current secret is stale too.
        self._previous = self._current if intervals == 1 else self._random_bytes(SECRET_LENGTH)
        self._current = self._random_bytes(SECRET_LENGTH)
        self._rotated_at += intervals * ROTATE_INTERVAL


def _token(secret: bytes, ip: str) -> bytes:
    return hashlib.sha1(secret + ip.encode("ascii", errors="replace")).digest()[:TOKEN_LENGTH]
