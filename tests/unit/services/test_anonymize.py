"""The pure value generation of services/anonymize.py."""

from __future__ import annotations

import re

import pytest

from odooplane.services import anonymize


def test_digest_depends_on_salt_model_and_id_only() -> None:
    assert anonymize.digest("s", "res.partner", 7) == anonymize.digest("s", "res.partner", 7)
    assert anonymize.digest("s", "res.partner", 7) != anonymize.digest("t", "res.partner", 7)
    assert anonymize.digest("s", "res.partner", 7) != anonymize.digest("s", "res.users", 7)
    assert anonymize.digest("s", "res.partner", 7) != anonymize.digest("s", "res.partner", 8)
    with pytest.raises(ValueError):
        anonymize.digest("", "res.partner", 7)


def test_tags_are_deterministic_and_short() -> None:
    ids = range(1, 500)
    first = anonymize.tags("salt", "res.partner", ids)
    assert first == anonymize.tags("salt", "res.partner", reversed(ids))
    assert set(first) == set(ids)
    assert all(re.fullmatch(r"[0-9a-f]{6,}", tag) for tag in first.values())
    assert sum(len(tag) == 6 for tag in first.values()) > 490
    assert first != anonymize.tags("other salt", "res.partner", ids)


def test_tags_are_unique_even_when_prefixes_collide() -> None:
    # 20 000 ids on 24 bits: the birthday bound makes collisions of 6-digit prefixes certain.
    ids = range(1, 20_001)
    result = anonymize.tags("salt", "res.partner", ids)
    assert len(set(result.values())) == len(ids)
    longer = {i: t for i, t in result.items() if len(t) > 6}
    assert longer, "expected at least one collision to be resolved"
    for record_id, tag in longer.items():
        assert tag == anonymize.digest("salt", "res.partner", record_id)[: len(tag)]
    # one-character tags would collide immediately: the loop widens until unique
    tiny = anonymize.tags("salt", "res.partner", range(1, 300), length=1)
    assert len(set(tiny.values())) == 299


def test_partner_values_hold_nothing_of_the_original() -> None:
    originals = {"name": "Jane Marie Doe", "email": "jane.doe@acme-corp.com", "phone": "+32 475 12 34 56",
                 "mobile": "+32 499 65 43 21", "street": "Rue de la Loi 16", "street2": "Boîte 3",
                 "city": "Bruxelles", "zip": "1000", "vat": "BE0477472701", "website": "https://acme-corp.com",
                 "comment": "<p>Prefers calls after 6pm</p>", "company_name": "Acme Corp"}
    tag = anonymize.tags("salt", "res.partner", [42])[42]
    values = anonymize.partner_values(tag)
    assert set(values) == set(anonymize.PARTNER_FIELDS)
    assert values["comment"] is None
    generated = " ".join(v for v in values.values() if v)
    for original in originals.values():
        for word in re.findall(r"[A-Za-z]{3,}|\d{3,}", original):
            if word.lower() in ("https", "com", "corp"):
                continue
            assert word.lower() not in generated.lower(), word
    assert values["email"] == f"partner-{tag}@example.invalid"
    assert values["name"] == f"Partner {tag}"
    assert values["phone"] == f"+00 000 {tag}"
    assert re.fullmatch(r"\d{5}", values["zip"] or "")


def test_values_are_unique_within_a_run() -> None:
    tags = anonymize.tags("salt", "res.partner", range(1, 5001))
    for field in ("name", "email", "phone", "mobile", "vat", "website"):
        produced = [anonymize.partner_values(tag)[field] for tag in tags.values()]
        assert len(set(produced)) == len(produced), field
    logins = [anonymize.user_login(tag) for tag in anonymize.tags("salt", "res.users", range(1, 5001)).values()]
    assert len(set(logins)) == len(logins)
    assert all(login.endswith("@example.invalid") and login.startswith("user-") for login in logins)
