"""Domain translation of the read-only object service."""

from __future__ import annotations

import pytest

from odooplane.sim import orm

PARTNER = orm.MODELS["res.partner"]
MODULE = orm.MODELS["ir.module.module"]


def sql_of(model: orm.Model, domain: list[object], **kwargs: bool) -> tuple[str, list[object]]:
    clause, params = orm.where(model, domain, **kwargs)
    return clause.as_string(None), params


def test_active_test_is_added_unless_the_domain_mentions_active() -> None:
    assert sql_of(PARTNER, []) == ("t.active = %s", [True])
    assert sql_of(PARTNER, [("active", "=", False)]) == ("t.active IS NOT TRUE", [])
    assert sql_of(PARTNER, [], active_test=False) == ("TRUE", [])


def test_prefix_operators_and_implicit_and() -> None:
    text, params = sql_of(MODULE, ["|", ("name", "=", "sale"), "!", ("state", "in", ["installed"]),
                                   ("application", "=", True)])
    assert text == "(t.name = %s OR (NOT t.state = ANY(%s))) AND t.application = %s"
    assert params == ["sale", ["installed"], True]


def test_false_means_null_and_ilike_wraps_in_wildcards() -> None:
    text, params = sql_of(PARTNER, [("email", "=", False), ("name", "ilike", "acme")], active_test=False)
    assert text == "t.email IS NULL AND t.name ILIKE %s"
    assert params == ["%acme%"]


def test_translated_fields_read_en_us() -> None:
    assert sql_of(MODULE, [("shortdesc", "=", "Sales")])[0] == "(t.shortdesc->>'en_US') = %s"


@pytest.mark.parametrize("domain", [[("password", "=", "x")], [("name", "~", "x")], ["&"], ["nonsense"]])
def test_invalid_domains_are_rejected(domain: list[object]) -> None:
    with pytest.raises(ValueError, match="Invalid"):
        orm.where(MODULE, domain)
