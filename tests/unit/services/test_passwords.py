from __future__ import annotations

import base64
import hashlib
import hmac

from odooplane.services import passwords, postgres


def test_pbkdf2_hash_is_passlib_format_and_verifies() -> None:
    hashed = passwords.hash_password("s3cret", rounds=1000, salt=b"0123456789abcdef")
    scheme, rounds, salt, checksum = hashed.split("$")[1:]
    assert scheme == "pbkdf2-sha512" and rounds == "1000"
    assert "+" not in salt + checksum and "=" not in salt + checksum  # passlib's ab64
    assert passwords.verify_password("s3cret", hashed)
    assert not passwords.verify_password("wrong", hashed)
    assert not passwords.verify_password("s3cret", "plain-text")


def test_scram_verifier_matches_rfc_7677_derivation() -> None:
    salt = b"saltsaltsaltsalt"
    verifier = postgres.scram_verifier("pencil", iterations=4096, salt=salt)
    head, keys = verifier.split("$", 1)[1].split("$")
    assert head == f"4096:{base64.b64encode(salt).decode()}"
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    assert keys.split(":")[0] == base64.b64encode(stored).decode()
    assert "pencil" not in verifier
