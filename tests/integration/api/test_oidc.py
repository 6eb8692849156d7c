"""Signing in to the dashboard through a real OpenID Connect provider (``oidc-provider-mock``, a
standards-conforming provider built on authlib, run here): the code flow with PKCE, the ID token
checked, the person's group mapped to a role and scope; a person in no mapped group, a forged state
and a local user's name are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.estate import TestEstate, make_estate, unique
from tests.support.served import Served

pytestmark = pytest.mark.integration
oidc_mock = pytest.importorskip("oidc_provider_mock")


@pytest.fixture
def provider() -> Iterator[str]:
    users = [oidc_mock.User(sub="carol-sub", claims={"preferred_username": "Carol",
                                                     "groups": ["staff", "erp-approvers"]}),
             oidc_mock.User(sub="dave-sub", claims={"preferred_username": "dave", "groups": ["staff"]}),
             oidc_mock.User(sub="root-sub", claims={"preferred_username": "localadmin", "groups": ["erp-admins"]})]
    with oidc_mock.run_server_in_thread(user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def served(provider: str, tmp_path: Any) -> Iterator[tuple[TestEstate, Served]]:
    estate = make_estate(tmp_path, {unique("acme"): {"labels": {"business_unit": "retail"},
                                                    "environments": {"prod": {}}}})
    estate.data["platform"]["identity"] = {"oidc": {
        "issuer": provider, "client_id": "odooplane", "client_secret": "env:TEST_OIDC_SECRET", "label": "Test SSO",
        "roles": {"erp-admins": "platform-admin", "erp-approvers": "approver"},
        "scopes": {"erp-approvers": ["business_unit=retail"]}}}
    estate.write()
    estate.env["TEST_OIDC_SECRET"] = "client-secret-of-the-test"
    estate.cli("users", "add", "localadmin", "--role", "auditor", "-f", str(estate.path))
    site = Served(estate.path, "--executors", "0", env=estate.env)
    try:
        yield estate, site
    finally:
        site.stop()


def sign_in_as(site: Served, sub: str, *, tamper_state: bool = False) -> httpx.Response:
    """Go through the flow as the browser would; return the dashboard's answer to the callback."""
    with httpx.Client(timeout=30) as client:
        start = client.get(f"{site.base}/login/oidc?next=/approvals")
        assert start.status_code == 303, start.text
        authorize = start.headers["location"]
        query = parse_qs(urlsplit(authorize).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
        form = client.get(authorize)
        assert form.status_code == 200
        granted = client.post(authorize, data={"sub": sub})
        assert granted.status_code in (302, 303), granted.text
        callback = granted.headers["location"]
        if tamper_state:
            callback = re.sub(r"state=[^&]+", "state=forged", callback)
        answer = client.get(callback, cookies=client.cookies)
        answer.extensions["client_cookies"] = dict(client.cookies)
        return answer


def test_a_person_signs_in_through_the_provider_with_the_role_of_their_group(
        served: tuple[TestEstate, Served]) -> None:
    estate, site = served
    login = httpx.get(f"{site.base}/login", timeout=10)
    assert "Sign in with Test SSO" in login.text
    answer = sign_in_as(site, "carol-sub")
    assert answer.status_code == 303 and answer.headers["location"] == "/approvals", answer.text
    cookies = answer.extensions["client_cookies"]
    assert "odooplane_session" in cookies
    page = httpx.get(f"{site.base}/approvals", cookies={"odooplane_session": cookies["odooplane_session"]},
                     timeout=10)
    assert page.status_code == 200 and "carol · approver · business_unit=retail" in page.text
    users = estate.cli("users", "list", "--json", "-f", str(estate.path)).stdout
    assert '"name": "carol"' in users and '"created_by": "oidc:' in users
    audit = estate.cli("audit", "--json", "-n", "10", "-f", str(estate.path)).stdout
    assert '"via": "oidc"' in audit


def test_no_mapped_group_a_forged_state_or_a_local_users_name_are_refused(
        served: tuple[TestEstate, Served]) -> None:
    estate, site = served
    nobody = sign_in_as(site, "dave-sub")
    assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login?error=no+group")
    forged = sign_in_as(site, "carol-sub", tamper_state=True)
    assert forged.status_code == 303 and "state+does+not+match" in forged.headers["location"]
    taken = sign_in_as(site, "root-sub")
    assert taken.status_code == 303 and taken.headers["location"].startswith("/login?error=")
    assert "odooplane_session" not in taken.extensions["client_cookies"]
    audit = estate.cli("audit", "--json", "-n", "20", "-f", str(estate.path)).stdout
    assert "is a local user" in audit and "gives a role" in audit
