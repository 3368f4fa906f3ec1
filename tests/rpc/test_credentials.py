"""app/rpc/credentials.py: the password is kept as an scrypt hash and checked against it."""

from __future__ import annotations

from app.rpc.credentials import hash_password, same_text, verify_password


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("", stored)


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    assert hash_password("pw", n=2**10) != hash_password("pw", n=2**10)


def test_malformed_or_hostile_hashes_match_nothing() -> None:
    for stored in ("", "plain", "scrypt$1$8$1$AA==$AA==", "scrypt$1024$8$1$!!$AA==", "md5$1$2$3$AA==$AA==",
                   "scrypt$1125899906842624$8$1$AAAA$AAAA", "scrypt$1024$8$1$AAAA$"):
        assert not verify_password("pw", stored), stored


def test_same_text() -> None:
    assert same_text("abc", "abc") and not same_text("abc", "abd") and not same_text("é", "e")
