"""passlib pbkdf2_sha512 compatibility of odooplane.sim.passwords."""

from __future__ import annotations

import hashlib
import re

from odooplane.sim import passwords

# Generated with passlib 1.7.4: pbkdf2_sha512.using(rounds=1000, salt=b"odooplane-sim-16").hash("admin")
PASSLIB_ADMIN = ("$pbkdf2-sha512$1000$b2Rvb3BsYW5lLXNpbS0xNg$UvKR5q2iZwsSF6AoIFzeneutt9J03MAPQES20dLHOt2wo.f3lf/eW6dz"
                 "KHTtcrcm5IBG84b/YCduwkLeu0WViQ")
# passlib 1.7.4: pbkdf2_sha512.using(rounds=6000).hash("s3cret pass") (random salt)
PASSLIB_SECRET = ("$pbkdf2-sha512$6000$YAxhbI1Rytkbg/Aeg9D63w$0rtMGIhixHDlHJdDKjfHnQpcmVbC5ivp450n9U.b6gj0k.HTc5GxXJ"
                  "QDkovuFMo.IuGsROkH6Njyrqe.oNS8Qw")


def test_hash_is_identical_to_passlib_for_the_same_salt_and_rounds() -> None:
    assert passwords.hash_password("admin", rounds=1000, salt=b"odooplane-sim-16") == PASSLIB_ADMIN


def test_passlib_hashes_verify_with_any_round_count() -> None:
    assert passwords.verify("admin", PASSLIB_ADMIN)
    assert passwords.verify("s3cret pass", PASSLIB_SECRET)
    assert not passwords.verify("Admin", PASSLIB_ADMIN)


def test_hash_format_matches_a_hashlib_computation() -> None:
    stored = passwords.hash_password("correct horse", rounds=1234)
    match = re.fullmatch(r"\$pbkdf2-sha512\$(\d+)\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)", stored)
    assert match is not None
    rounds, salt, checksum = match.groups()
    assert rounds == "1234"
    assert len(passwords.ab64_decode(salt)) == 16
    expected = hashlib.pbkdf2_hmac("sha512", b"correct horse", passwords.ab64_decode(salt), 1234)
    assert passwords.ab64_decode(checksum) == expected
    assert "+" not in stored
    assert "=" not in stored


def test_ab64_matches_passlib_docs_pbkdf2_sha256_vector() -> None:
    # From passlib's documentation: pbkdf2_sha256.hash("toomanysecrets")
    vector = "$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk"
    _, _, rounds, salt, checksum = vector.split("$")
    digest = hashlib.pbkdf2_hmac("sha256", b"toomanysecrets", passwords.ab64_decode(salt), int(rounds))
    assert passwords.ab64_encode(digest) == checksum


def test_default_rounds_are_odoo_18s() -> None:
    assert passwords.DEFAULT_ROUNDS == 600_000


def test_plaintext_is_accepted_once_and_replaced_by_a_hash() -> None:
    valid, replacement = passwords.verify_and_update("admin", "admin", rounds=1000)
    assert valid
    assert replacement is not None
    assert passwords.identify(replacement) == "pbkdf2_sha512"
    assert passwords.verify("admin", replacement)
    assert passwords.verify_and_update("nope", "admin") == (False, None)


def test_hashed_password_is_not_replaced() -> None:
    assert passwords.verify_and_update("admin", PASSLIB_ADMIN) == (True, None)


def test_is_hashed_uses_odoos_modular_crypt_test() -> None:
    assert passwords.is_hashed(PASSLIB_ADMIN)
    assert not passwords.is_hashed("admin")


def test_the_admin_hash_is_computed_once_per_process_and_round_count() -> None:
    first = passwords.admin_hash(1001)
    assert passwords.admin_hash(1001) is first
    assert passwords.verify("admin", first)
    assert first.startswith("$pbkdf2-sha512$1001$")
    assert passwords.admin_hash(1002) != first


def test_an_unknown_password_hash_has_the_passlib_shape_and_matches_nothing() -> None:
    stored = passwords.unknown_password_hash(600_000)
    match = re.fullmatch(r"\$pbkdf2-sha512\$600000\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)", stored)
    assert match is not None
    salt, checksum = (passwords.ab64_decode(part) for part in match.groups())
    assert (len(salt), len(checksum)) == (passwords.SALT_SIZE, 64)
    assert passwords.identify(stored) == "pbkdf2_sha512"
    assert passwords.is_hashed(stored)  # res.users.init() leaves it alone
    assert passwords.unknown_password_hash(1000) != passwords.unknown_password_hash(1000)
    assert not passwords.verify("", passwords.unknown_password_hash(1000))
