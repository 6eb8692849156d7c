"""Password hashes in passlib's ``pbkdf2_sha512`` format, as Odoo stores them.

Odoo keeps ``res_users.password`` (and a hashed ``admin_passwd``) as
``$pbkdf2-sha512$<rounds>$<salt>$<checksum>`` where salt (16 bytes) and
checksum (64 bytes of PBKDF2-HMAC-SHA512) use passlib's "adapted base64":
standard base64 with ``.`` instead of ``+`` and no padding.  Odoo 18 hashes
with 600 000 rounds but verifies any round count, and still accepts a
plaintext value (a deprecated scheme) which it replaces by a hash on the next
successful login.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re

SCHEME_PREFIX = "$pbkdf2-sha512$"
DEFAULT_ROUNDS = 600_000
SALT_SIZE = 16
_HASH_RE = re.compile(r"^\$pbkdf2-sha512\$(\d+)\$([./A-Za-z0-9]*)\$([./A-Za-z0-9]+)$")
# Odoo's res.users init() treats anything not shaped like "$x$y$..." as plaintext.
_MCF_RE = re.compile(r"^\$[^$]+\$[^$]+\$.")


def ab64_encode(data: bytes) -> str:
    """passlib ``ab64_encode``: base64 with ``.`` for ``+`` and no ``=`` padding."""
    return base64.b64encode(data).decode("ascii").replace("+", ".").rstrip("=")


def ab64_decode(text: str) -> bytes:
    """Inverse of ab64_encode. Raise ValueError on malformed input."""
    padded = text.replace(".", "+")
    padded += "=" * (-len(padded) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"invalid ab64 data: {exc}") from exc


def hash_password(password: str, *, rounds: int = DEFAULT_ROUNDS, salt: bytes | None = None) -> str:
    """Given a password, return its ``$pbkdf2-sha512$...`` hash."""
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    checksum = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds)
    return f"{SCHEME_PREFIX}{rounds}${ab64_encode(salt)}${ab64_encode(checksum)}"


@functools.cache
def admin_hash(rounds: int = DEFAULT_ROUNDS) -> str:
    """The hash of ``admin`` a new database's administrator gets, computed once per process.

    At Odoo's 600 000 rounds one PBKDF2 costs about half a second of CPU, so a
    process initialising several databases (``-d a,b``) shares one hash.
    """
    return hash_password("admin", rounds=rounds)


def unknown_password_hash(rounds: int = DEFAULT_ROUNDS) -> str:
    """A hash of a random password nobody knows, without spending a PBKDF2 on it.

    The checksum is random bytes: as a PBKDF2 output is indistinguishable from
    random, the value is as good as hashing a random secret and forgetting it,
    and no password is known to match it.
    """
    checksum = os.urandom(hashlib.sha512().digest_size)
    return f"{SCHEME_PREFIX}{rounds}${ab64_encode(os.urandom(SALT_SIZE))}${ab64_encode(checksum)}"


def identify(stored: str) -> str:
    """Return ``"pbkdf2_sha512"`` or ``"plaintext"`` for a stored value."""
    return "pbkdf2_sha512" if _HASH_RE.match(stored) else "plaintext"


def is_hashed(stored: str) -> bool:
    """Whether a stored password looks like a modular-crypt hash (Odoo's own test)."""
    return bool(_MCF_RE.match(stored))


def verify(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash or plaintext value."""
    match = _HASH_RE.match(stored)
    if match is None:
        # passlib's plaintext handler identifies any string, so an unknown
        # scheme is compared literally, as Odoo's CryptContext does.
        return hmac.compare_digest(password.encode("utf-8"), stored.encode("utf-8"))
    rounds, salt_text, checksum_text = match.groups()
    try:
        salt, expected = ab64_decode(salt_text), ab64_decode(checksum_text)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, int(rounds), len(expected))
    return hmac.compare_digest(actual, expected)


def verify_and_update(password: str, stored: str, *, rounds: int = DEFAULT_ROUNDS) -> tuple[bool, str | None]:
    """passlib ``CryptContext.verify_and_update`` for Odoo's context.

    Return (valid, replacement): replacement is a new hash when the stored
    value was plaintext (deprecated scheme) and the password matched.
    """
    valid = verify(password, stored)
    if valid and identify(stored) == "plaintext":
        return True, hash_password(password, rounds=rounds)
    return valid, None
