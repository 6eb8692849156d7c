"""The dashboard through FastAPI's test client: signing in (and its throttling), the session cookie,
CSRF on every change, the pages each role sees, credentials revealed only with the right (and
audited), and the approvals inbox with separation of duties."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from odooplane.actions import access as access_action
from odooplane.api.app import create_app
from odooplane.store import audit, evidence, releases
from odooplane.web import app as web
from tests.integration.api.conftest import ADMIN, Api

PASSWORD = "correct horse battery"


@pytest.fixture
def site(api: Api) -> Iterator[TestClient]:
    app = create_app(api.service)
    web.install(app)
    for name, role, scope in (("alice", "release-manager", []), ("bob", "approver", []),
                              ("pat", "partner-readonly", ["business_unit=retail"]), ("dev", "developer", [])):
        access_action.add_user(api.ctx, ADMIN, name=name, role=role, scopes=scope, os_user=None, password=PASSWORD)
    with TestClient(app) as client:
        yield client


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> tuple[int, str]:
    form = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post("/login", data={"username": name, "password": password, "login_csrf": token.group(1),
                                         "next": "/"}, follow_redirects=False)
    return answer.status_code, answer.text


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_pages_need_a_session_and_send_security_headers(site: TestClient) -> None:
    answer = site.get("/tenants/x", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/tenants/x"
    login = site.get("/login")
    assert login.status_code == 200 and "script-src 'self'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY" and 'for="password"' in login.text
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert site.get("/static/htmx.min.js").status_code == 200


def test_sign_in_sets_a_session_cookie_and_wrong_passwords_are_throttled(site: TestClient, api: Api) -> None:
    assert sign_in(site, "bob", "wrong password!")[0] == 401
    code, _ = sign_in(site, "bob")
    assert code == 303
    session = site.cookies.get(web.COOKIE)
    assert session and len(session) > 30
    fleet = site.get("/")
    assert fleet.status_code == 200 and api.names["acme"] in fleet.text and "bob · approver" in fleet.text
    entries = [(e.action, e.outcome) for e in audit.entries(api.ctx.store, limit=10)]
    assert ("sign in", "ok") in entries and ("sign in", "refused") in entries
    for _ in range(5):
        sign_in(site, "dev", "wrong password!")
    assert sign_in(site, "dev")[0] == 429  # the right password, too late: the user is throttled
    page = site.get("/")
    site.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert site.get("/", follow_redirects=False).status_code == 303  # the session ended


def test_a_scoped_partner_sees_its_tenants_only(site: TestClient, api: Api) -> None:
    sign_in(site, "pat")
    fleet = site.get("/").text
    assert api.names["acme"] in fleet and api.names["initech"] in fleet and api.names["globex"] not in fleet
    assert site.get(f"/tenants/{api.names['globex']}").status_code == 404
    tenant = site.get(f"/tenants/{api.names['acme']}")
    assert tenant.status_code == 200 and "Reveal credentials" not in tenant.text
    refused = site.post(f"/environments/{api.names['acme']}/staging/credentials", data={"csrf": csrf_of(tenant.text)})
    assert refused.status_code == 403
    grouped = site.get("/?group=site").text
    assert "site: lyon" in grouped


def test_credentials_need_the_right_a_csrf_token_and_are_audited(site: TestClient, api: Api) -> None:
    sign_in(site, "dev")
    target = f"{api.names['acme']}/staging"
    page = site.get(f"/tenants/{api.names['acme']}")
    assert "Reveal credentials" in page.text
    no_csrf = site.post(f"/environments/{target}/credentials", data={"csrf": "forged"})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    api.ctx.secrets.put(f"env/{target}/admin_user_password", "s3cret-for-the-test")
    shown = site.post(f"/environments/{target}/credentials", data={"csrf": csrf_of(page.text)})
    assert shown.status_code == 200 and "s3cret-for-the-test" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    prod = site.post(f"/environments/{api.names['acme']}/prod/credentials", data={"csrf": csrf_of(page.text)})
    assert prod.status_code == 403 and "secrets.reveal.production" in prod.text
    reveals = [e for e in audit.entries(api.ctx.store, limit=20) if e.action == "reveal credentials"]
    assert [(e.actor, e.target) for e in reveals] == [("dev", target)]


def test_approvals_with_separation_of_duties(site: TestClient, api: Api) -> None:
    target = f"{api.names['acme']}/prod"
    change = releases.add(api.ctx.store, target=target, kind="request", status="open", actor="alice",
                          release="r2", from_release="r1")
    sign_in(site, "alice")
    mine = site.get("/approvals")
    assert f"Change #{change}" in mine.text and "someone else must decide" in mine.text
    assert f"Approve change #{change}" not in mine.text  # a release manager may not approve anyway
    site.cookies.clear()
    sign_in(site, "bob")
    inbox = site.get("/approvals")
    assert f"Approve change #{change}" in inbox.text
    done = site.post(f"/approvals/{change}", data={"csrf": csrf_of(inbox.text), "decision": "approve"})
    assert done.status_code == 200 and f"change #{change} approved" in done.text
    approvals = [e for e in releases.events(api.ctx.store, kinds=("approval",)) if e.detail.get("change") == change]
    assert [(e.actor, e.status) for e in approvals] == [("bob", "ok")]
    again = site.post(f"/approvals/{change}", data={"csrf": csrf_of(inbox.text), "decision": "approve"})
    assert again.status_code == 400 and "already approved" in again.text

    own = releases.add(api.ctx.store, target=target, kind="request", status="open", actor="bob", release="r3")
    refused = site.post(f"/approvals/{own}", data={"csrf": csrf_of(inbox.text), "decision": "approve"})
    assert refused.status_code == 400 and "separation of duties" in refused.text
    rejected = site.post(f"/approvals/{change}", data={"csrf": csrf_of(inbox.text), "decision": "reject",
                                                       "reason": "not this week"})
    assert rejected.status_code == 200 and f"change #{change} rejected" in rejected.text
    assert f"Change #{change}" not in site.get("/approvals").text  # closed


def test_operations_and_drills_pages(site: TestClient, api: Api) -> None:
    sign_in(site, "bob")
    accepted = site.get("/operations")
    assert accepted.status_code == 200 and "Operations" in accepted.text
    evidence.add(api.ctx.store, kind="drill", target=f"{api.names['acme']}/prod", ok=True,
                 data={"rpo_s": 60, "rto_s": 42}, summary="RPO 60 s, RTO 42 s")
    drills = site.get("/drills")
    assert drills.status_code == 200 and "RPO 60 s, RTO 42 s" in drills.text
    assert site.get("/operations/999999").status_code == 404


def test_guardrails_page_asks_for_and_approves_waivers(site: TestClient, api: Api) -> None:
    target = f"{api.names['acme']}/prod"
    access_action.add_user(api.ctx, ADMIN, name="eve", role="erp-admin", scopes=[], os_user=None, password=PASSWORD)
    sign_in(site, "eve")
    page = site.get("/guardrails")
    assert page.status_code == 200 and "restore-proven" in page.text and target in page.text
    asked = site.post("/guardrails/waivers", data={"csrf": csrf_of(page.text), "rule": "restore-proven",
                                                   "target": target, "reason": "first backup tonight", "days": "7"})
    assert asked.status_code == 200 and "asked for" in asked.text, asked.text
    waiver = re.search(r"waiver #(\d+) asked for", asked.text)
    assert waiver
    assert f"Approve waiver #{waiver.group(1)}" not in asked.text  # never one's own
    no_csrf = site.post(f"/guardrails/waivers/{waiver.group(1)}", data={"decision": "approve"})
    assert no_csrf.status_code in (400, 403)
    site.cookies.clear()
    sign_in(site, "bob")
    inbox = site.get("/guardrails")
    assert f"Approve waiver #{waiver.group(1)}" in inbox.text
    done = site.post(f"/guardrails/waivers/{waiver.group(1)}", data={"csrf": csrf_of(inbox.text),
                                                                      "decision": "approve"})
    assert done.status_code == 200 and f"waiver #{waiver.group(1)} approved" in done.text
    assert "waived (#" in done.text


def test_cost_page_needs_cost_read(site: TestClient, api: Api) -> None:
    access_action.add_user(api.ctx, ADMIN, name="amy", role="auditor", scopes=[], os_user=None, password=PASSWORD)
    sign_in(site, "amy")
    page = site.get("/cost?by=tenant")
    assert page.status_code == 200 and "<h1>Cost</h1>" in page.text and api.names["acme"] in page.text
    assert site.get("/cost?by=colour").status_code == 400
    site.cookies.clear()
    sign_in(site, "bob")  # an approver reads no cost
    assert site.get("/cost").status_code == 403


def test_rollouts_page(site: TestClient, api: Api) -> None:
    sign_in(site, "bob")
    page = site.get("/rollouts")
    assert page.status_code == 200 and "<h1>Rollouts</h1>" in page.text and "No rollout wave" in page.text
