"""The REST API on a real state store, through FastAPI's test client: authentication by token
(expiry, revocation, throttling), every route refusing anonymous callers, the role x route x scope
matrix, paging and filters, problem details, and the audit of decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from odooplane import access
from odooplane.actions import access as access_action
from odooplane.store import audit, identity, journal
from tests.integration.api.conftest import ADMIN, Api
from tests.support.estate import unique

pytestmark = pytest.mark.integration

# -- authentication ----------------------------------------------------------------------------
def test_every_route_refuses_an_anonymous_caller_with_a_problem(api: Api) -> None:
    spec = api.client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    paths = [p for p, ops in spec["paths"].items() if "get" in ops]
    assert len(paths) >= 13, paths
    for path in paths:
        concrete = path.replace("{name}", api.names["acme"]).replace("{tenant}", api.names["acme"]) \
            .replace("{env}", "prod").replace("{op_id}", "1")
        answer = api.get(concrete)
        assert answer.status_code == 401, (path, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        body = answer.json()
        assert body["status"] == 401 and body["type"].endswith("/unauthenticated") and body["instance"] == concrete


def test_a_token_works_until_it_is_revoked_and_an_expired_one_never(api: Api) -> None:
    secret = api.token("auditor")
    me = api.get("/api/v1/whoami", secret)
    assert me.status_code == 200 and me.json()["role"] == "auditor" and me.json()["kind"] == "token"
    [row] = [t for t in identity.tokens(api.ctx.store) if secret.startswith(t.prefix)]
    assert row.last_used_at is not None
    assert secret not in str(identity.tokens(api.ctx.store))  # only the digest and the prefix are kept

    access_action.revoke_token(api.ctx, ADMIN, row.name)
    refused = api.get("/api/v1/whoami", secret)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    made = identity.create_token(api.ctx.store, name="expired", role="auditor", scopes=[], created_by="test",
                                 expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert made is not None
    assert api.get("/api/v1/whoami", made[1]).status_code == 401
    refusals = [e for e in audit.entries(api.ctx.store, limit=20) if e.action == "authenticate token"]
    assert refusals and all(e.outcome == "refused" for e in refusals)
    assert all(made[1] not in str(e.detail) + e.target for e in refusals)  # never the secret


def test_a_client_offering_bad_tokens_is_throttled(api: Api) -> None:
    good = api.token("auditor")
    codes = [api.get("/api/v1/whoami", f"odp_wrong{i}").status_code for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    blocked = api.get("/api/v1/whoami", good)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1


# -- the role x route x scope matrix -----------------------------------------------------------
ROUTES = {  # route -> the right it needs (estate-wide ones need an unscoped caller)
    "/api/v1/whoami": None,
    "/api/v1/roles": None,
    "/api/v1/estate": "estate.read",
    "/api/v1/estate/validation": "estate.read",
    "/api/v1/tenants": "fleet.read",
    "/api/v1/environments": "fleet.read",
    "/api/v1/health": "fleet.read",
    "/api/v1/operations": "operations.read",
    "/api/v1/evidence": "evidence.read",
    "/api/v1/audit": "audit.read",
    "/api/v1/audit/verification": "audit.read",
    "/api/v1/guardrails": "policy.read",
    "/api/v1/waivers": "policy.read",
    "/api/v1/cost": "cost.read",
    "/api/v1/rollouts": None,
    "/api/v1/schedules": None,
}


@pytest.mark.parametrize("role", list(access.ROLES))
def test_each_role_gets_exactly_the_routes_its_rights_allow(api: Api, role: str) -> None:
    unscoped = api.token(role)
    scoped = api.token(role, ["business_unit=retail"])
    rights = access.ROLES[role]
    for route, right in ROUTES.items():
        expected = 200 if right is None or right in rights else 403
        answer = api.get(route, unscoped)
        assert answer.status_code == expected, (role, route, answer.text)
        expected_scoped = 403 if right in access.ESTATE_WIDE or route == "/api/v1/audit/verification" else expected
        answer = api.get(route, scoped)
        assert answer.status_code == expected_scoped, (role, "scoped", route, answer.text)
        if answer.status_code == 403:
            assert answer.json()["type"].endswith("/forbidden")
    # the changes: a new tenant, a backup, a placement, a decommission
    n = api.names
    writes = [("POST", "/api/v1/tenants", {"name": unique("m"), "environments": {"dev": {}}}, "tenants.create"),
              ("POST", f"/api/v1/environments/{n['acme']}/prod/backups", None, "backups.run"),
              ("PATCH", f"/api/v1/environments/{n['acme']}/staging", {"placement": f"shared:{n['pool']}"},
               "tenants.change"),
              ("DELETE", f"/api/v1/environments/{n['globex']}/dev", None, "tenants.decommission")]
    for method, route, body, right in writes:
        answer = api.send(method, route, unscoped, body)
        assert answer.status_code == (202 if right in rights else 403), (role, method, route, answer.text)


def test_a_scoped_caller_sees_only_its_scope_and_is_told_404_outside(api: Api) -> None:
    n = api.names
    partner = api.token("partner-readonly", ["business_unit=retail"])
    envs = api.get("/api/v1/environments", partner).json()["items"]
    assert sorted(e["target"] for e in envs) == sorted([f"{n['acme']}/prod", f"{n['acme']}/staging",
                                                        f"{n['initech']}/prod"])
    tenants = api.get("/api/v1/tenants", partner).json()["items"]
    assert sorted(t["name"] for t in tenants) == sorted([n["acme"], n["initech"]])
    detail = api.get(f"/api/v1/tenants/{n['acme']}", partner).json()
    assert detail["tenant"]["labels"]["business_unit"] == "retail"
    assert [e["target"] for e in detail["environments"]] == [f"{n['acme']}/prod", f"{n['acme']}/staging"]
    assert detail["environments"][0]["url"].startswith(f"http://{n['acme']}-prod.")
    hidden = api.get(f"/api/v1/tenants/{n['globex']}", partner)
    assert hidden.status_code == 404 and hidden.json()["type"].endswith("/not-found")
    assert api.get(f"/api/v1/environments/{n['globex']}/prod", partner).status_code == 404
    assert api.get("/api/v1/environments/nosuch/prod", partner).status_code == 404
    refusals = [e for e in audit.entries(api.ctx.store, limit=10) if e.action == "authorize fleet.read"]
    assert {e.target for e in refusals} >= {n["globex"], f"{n['globex']}/prod"}
    assert all(e.outcome == "refused" and e.actor.startswith("token:") for e in refusals)

    staging_only = api.token("developer", ["business_unit=retail", "stage=staging", "stage=development"])
    seen = [e["target"] for e in api.get("/api/v1/environments", staging_only).json()["items"]]
    assert seen == [f"{n['acme']}/staging"]
    pool_scope = api.token("provisioner", [f"pool={n['pool']}"])
    seen = sorted(e["target"] for e in api.get("/api/v1/environments", pool_scope).json()["items"])
    assert seen == sorted([f"{n['globex']}/dev", f"{n['initech']}/prod"])


def test_environments_page_by_cursor_and_filter(api: Api) -> None:
    n = api.names
    admin = api.token("platform-admin")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["after"] = cursor
        page = api.get("/api/v1/environments", admin, **params).json()
        seen += [e["target"] for e in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 5
    assert [e["target"] for e in api.get("/api/v1/environments", admin, tenant=n["globex"]).json()["items"]] == \
        [f"{n['globex']}/dev", f"{n['globex']}/prod"]
    lyon = api.get("/api/v1/environments", admin, label="site=lyon").json()["items"]
    assert [e["target"] for e in lyon] == [f"{n['initech']}/prod"]
    assert lyon[0]["placement"] == f"shared:{n['pool']}" and lyon[0]["health"] == "unknown"
    prods = api.get("/api/v1/environments", admin, stage="production").json()["items"]
    assert len(prods) == 3
    assert api.get("/api/v1/environments", admin, status="unknown").json()["items"][0]["health"] == "unknown"
    bad = api.get("/api/v1/environments", admin, limit=0)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "limit" in bad.json()["detail"]
    bad_label = api.get("/api/v1/environments", admin, label="nolabel")
    assert bad_label.status_code == 400 and "key=value" in bad_label.json()["detail"]


def test_operations_are_listed_newest_first_within_scope(api: Api) -> None:
    n = api.names
    store = api.ctx.store
    ids = [journal.start_operation(store, kind="backup", target=target, actor="test")
           for target in (f"{n['acme']}/prod", f"{n['globex']}/prod", f"{n['initech']}/prod", "estate")]
    for op_id in ids:
        journal.finish_operation(store, op_id, status="succeeded")
    admin = api.token("platform-admin")
    listed = api.get("/api/v1/operations", admin, limit=2).json()
    assert [o["id"] for o in listed["items"]] == [ids[3], ids[2]] and listed["next"] == str(ids[2])
    rest = api.get("/api/v1/operations", admin, limit=2, before=int(listed["next"])).json()
    assert [o["id"] for o in rest["items"]] == [ids[1], ids[0]]
    retail = api.token("partner-readonly", ["business_unit=retail"])
    seen = [o["id"] for o in api.get("/api/v1/operations", retail).json()["items"]]
    assert seen == [ids[2], ids[0]]
    one = api.get(f"/api/v1/operations/{ids[0]}", retail).json()
    assert one["target"] == f"{n['acme']}/prod" and one["status"] == "succeeded" and one["steps"] == []
    assert api.get(f"/api/v1/operations/{ids[1]}", retail).status_code == 404
    assert api.get(f"/api/v1/operations/{ids[3]}", retail).status_code == 404  # estate-wide work
    assert api.get("/api/v1/operations/999999", admin).status_code == 404


def test_the_estate_its_validation_and_an_edit_that_breaks_it(api: Api) -> None:
    admin = api.token("platform-admin")
    summary = api.get("/api/v1/estate", admin).json()
    assert summary["environments"] == 5 and summary["valid"] is True and summary["pools"] == [api.names["pool"]]
    path = Path(summary["path"])
    path.write_text(path.read_text() + "\nnot_a_key: 1\n")
    broken = api.get("/api/v1/estate/validation", admin).json()
    assert broken["valid"] is False and any("not_a_key" in p for p in broken["problems"])
    still = api.get("/api/v1/environments", admin).json()["items"]  # the last valid estate is still served
    assert len(still) == 5


def test_audit_log_reads_and_verifies_its_chain(api: Api) -> None:
    admin = api.token("platform-admin")
    auditor = api.token("auditor")
    page = api.get("/api/v1/audit", auditor, limit=1).json()
    assert len(page["items"]) == 1 and page["next"] is not None
    assert page["items"][0]["action"] == "token create"  # the auditor's own token, by the owner
    verified = api.get("/api/v1/audit/verification", auditor).json()
    assert verified["intact"] is True and len(verified["head"]) == 64
    del admin


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    admin = api.token("platform-admin")
    missing = api.get("/api/v1/nothing", admin)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = api.client.delete("/api/v1/tenants", headers={"Authorization": f"Bearer {admin}"})
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
