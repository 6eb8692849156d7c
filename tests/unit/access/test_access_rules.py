"""Roles, rights and scopes (pure): what each role may do, how scope selectors combine, the
production guard on secrets, exports, shells and restores, and estate-wide rights."""

from __future__ import annotations

import pytest

from odooplane import access
from odooplane.access import ESTATE, AccessError, Principal, Scope, Subject, decide

ACME_PROD = Subject(tenant="acme", environment="acme/prod", stage="production", pool=None,
                    labels={"business_unit": "retail", "site": "lyon", "tier": "standard"})
ACME_STAGING = Subject(tenant="acme", environment="acme/staging", stage="staging", pool="std",
                       labels={"business_unit": "retail", "site": "lyon"})
GLOBEX_DEV = Subject(tenant="globex", environment="globex/dev", stage="development", pool="std",
                     labels={"business_unit": "wholesale"})


def who(role: str, *scope: str) -> Principal:
    return Principal("p", "token", role, Scope.parse(scope))


def test_every_role_grants_only_known_rights_and_the_admin_all() -> None:
    for role, rights in access.ROLES.items():
        assert rights <= set(access.RIGHTS), role
        assert role in access.ROLE_SUMMARY
    assert access.ROLES["platform-admin"] == frozenset(access.RIGHTS)
    only_admin = {"access.manage", "estate.read", "tenants.create"} - access.ROLES["provisioner"]
    for role, rights in access.ROLES.items():
        if role != "platform-admin":
            assert not (rights & {"access.manage", "estate.read"}), role
    assert only_admin == {"access.manage", "estate.read"}


@pytest.mark.parametrize(("role", "right", "subject", "allowed"), [
    ("partner-readonly", "fleet.read", ACME_PROD, True),
    ("partner-readonly", "secrets.reveal", ACME_STAGING, False),
    ("developer", "secrets.reveal", ACME_STAGING, True),
    ("developer", "secrets.reveal", ACME_PROD, False),  # production needs secrets.reveal.production
    ("developer", "shell", ACME_PROD, False),
    ("developer", "restore", ACME_STAGING, True),
    ("developer", "restore", ACME_PROD, False),
    ("erp-admin", "restore", ACME_PROD, True),
    ("erp-admin", "data.export", ACME_PROD, True),
    ("approver", "releases.approve", ACME_PROD, True),
    ("approver", "releases.request", ACME_PROD, False),
    ("release-manager", "releases.approve", ACME_PROD, False),
    ("provisioner", "tenants.create", GLOBEX_DEV, True),
    ("provisioner", "secrets.reveal", GLOBEX_DEV, False),
    ("auditor", "audit.read", ESTATE, True),
    ("auditor", "backups.run", ACME_PROD, False),
])
def test_role_decisions(role: str, right: str, subject: Subject, allowed: bool) -> None:
    decision = decide(who(role), right, subject)
    assert decision.allowed is allowed, decision.reason
    if not allowed:
        assert role in decision.reason


def test_selectors_of_one_key_are_alternatives_and_of_different_keys_all_needed() -> None:
    retail_nonprod = who("developer", "business_unit=retail", "stage=staging", "stage=development")
    assert decide(retail_nonprod, "fleet.read", ACME_STAGING).allowed
    refused = decide(retail_nonprod, "fleet.read", ACME_PROD)
    assert not refused.allowed and "outside the scope" in refused.reason and "stage=staging" in refused.reason
    assert not decide(retail_nonprod, "fleet.read", GLOBEX_DEV).allowed  # wrong business unit
    two_units = who("partner-readonly", "business_unit=retail", "business_unit=wholesale")
    assert decide(two_units, "fleet.read", GLOBEX_DEV).allowed and decide(two_units, "fleet.read", ACME_PROD).allowed
    by_pool = who("provisioner", "pool=std")
    assert decide(by_pool, "tenants.create", GLOBEX_DEV).allowed
    assert not decide(by_pool, "tenants.create", ACME_PROD).allowed  # dedicated
    by_env = who("developer", "environment=acme/staging")
    assert decide(by_env, "shell", ACME_STAGING).allowed and not decide(by_env, "shell", GLOBEX_DEV).allowed


def test_a_tenant_is_in_scope_when_some_of_its_environments_may_be() -> None:
    acme = Subject(tenant="acme", labels={"business_unit": "retail"})
    assert Scope.parse(["business_unit=retail", "stage=staging"]).covers(acme)
    assert Scope.parse(["environment=acme/staging"]).covers(acme)
    assert not Scope.parse(["environment=globex/dev"]).covers(acme)
    assert not Scope.parse(["business_unit=wholesale"]).covers(acme)


def test_estate_wide_rights_need_an_unscoped_principal() -> None:
    assert decide(who("platform-admin"), "access.manage").allowed
    scoped = decide(who("platform-admin", "tenant=acme"), "access.manage")
    assert not scoped.allowed and "unscoped" in scoped.reason
    assert not decide(who("platform-admin", "tenant=acme"), "estate.read").allowed
    assert not decide(who("auditor", "tenant=acme"), "audit.read", ESTATE).allowed  # the estate is out of scope


@pytest.mark.parametrize(("texts", "message"), [
    (["business_unit"], "expected key=value"),
    (["colour=red"], "key one of"),
    (["tenant="], "1-128"),
    (["tenant=a;b"], "1-128"),
])
def test_bad_scopes_are_refused_with_the_rule(texts: list[str], message: str) -> None:
    with pytest.raises(AccessError, match=message):
        Scope.parse(texts)


def test_scope_text_round_trips_sorted_without_duplicates() -> None:
    scope = Scope.parse(["stage=staging", "business_unit=retail", "stage=staging"])
    assert scope.texts() == ["business_unit=retail", "stage=staging"]
    assert Scope.parse(scope.texts()) == scope
    assert str(Scope()) == "the whole estate"


def test_unknown_rights_and_roles_are_errors() -> None:
    with pytest.raises(AccessError, match="unknown right"):
        decide(who("auditor"), "fly")
    with pytest.raises(AccessError, match="does not exist"):
        access.check_role("superuser")
    assert not decide(Principal("x", "token", "gone-role"), "fleet.read", ACME_PROD).allowed
