"""Odoo-compatible password hashes: passlib's ``pbkdf2_sha512`` format, which Odoo's
CryptContext verifies for ``admin_passwd`` and user passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ROUNDS = 600_000  # Odoo 18's default for pbkdf2_sha512
# For secrets Odooplane generates itself (32 random bytes): key stretching protects passwords a
# person chose; it adds nothing against guessing 256 random bits, and 600,000 rounds cost ~0.5 s of
# CPU per database created. Odoo verifies any number of rounds and re-hashes with its own on the
# next change of password.
GENERATED_ROUNDS = 1_000


def _ab64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, rounds: int = ROUNDS, salt: bytes | None = None) -> str:
    """Return ``$pbkdf2-sha512$rounds$salt$checksum`` for ``password``."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${_ab64(salt)}${_ab64(digest)}"


def verify_password(password: str, hashed: str) -> bool:
    """Return whether ``password`` matches a passlib pbkdf2_sha512 hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "pbkdf2-sha512":
        return False
    try:
        rounds = int(parts[2])
        salt = _ab64_decode(parts[3])
        expected = _ab64_decode(parts[4])
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, rounds)
    return hmac.compare_digest(digest, expected)
