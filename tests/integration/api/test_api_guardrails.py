"""Guardrails through the API: findings of the environments in scope, waivers asked for by one
token and approved by another (never the same), refused without the right."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration


def test_findings_and_waivers_through_the_api(api: Api) -> None:
    n = api.names
    target = f"{n['acme']}/prod"
    partner = api.token("partner-readonly", ["business_unit=retail"])
    doc = api.get("/api/v1/guardrails", partner).json()
    assert doc["block_at"] == "critical" and doc["blocking"] == 0
    targets = {f["target"] for f in doc["findings"]}
    assert target in targets and not any(t.startswith(n["globex"]) for t in targets)  # its scope only
    failing = api.get("/api/v1/guardrails", partner, status="fail").json()["findings"]
    assert {(f["rule"], f["target"]) for f in failing} >= {("restore-proven", target)}

    admin, approver, developer = api.token("erp-admin"), api.token("approver"), api.token("developer")
    body = {"rule": "restore-proven", "target": target, "reason": "first backup tonight", "days": 7}
    assert api.send("POST", "/api/v1/waivers", developer, body).status_code == 403
    bad = api.send("POST", "/api/v1/waivers", admin, {**body, "rule": "nope"})
    assert bad.status_code == 400 and "no such rule" in bad.json()["detail"]
    made = api.send("POST", "/api/v1/waivers", admin, body)
    assert made.status_code == 201, made.text
    waiver = made.json()
    assert waiver["state"] == "requested" and waiver["requested_by"].startswith("token:")
    own = api.send("POST", f"/api/v1/waivers/{waiver['id']}/approval", admin)
    assert own.status_code == 403  # an erp-admin does not approve waivers
    done = api.send("POST", f"/api/v1/waivers/{waiver['id']}/approval", approver)
    assert done.status_code == 200 and done.json()["state"] == "active", done.text
    again = api.send("POST", f"/api/v1/waivers/{waiver['id']}/approval", approver)
    assert again.status_code == 400 and "active" in again.json()["detail"]
    waived = {(f["rule"], f["target"]): f for f in api.get("/api/v1/guardrails", partner).json()["findings"]}
    assert waived[("restore-proven", target)]["status"] == "waived"
    assert waived[("restore-proven", target)]["waiver"] == waiver["id"]
    assert [w["id"] for w in api.get("/api/v1/waivers", partner).json()] == [waiver["id"]]
    assert api.send("POST", "/api/v1/waivers/999999/approval", approver).status_code == 404
    revoked = api.send("POST", f"/api/v1/waivers/{waiver['id']}/revocation", approver)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"


def test_a_token_cannot_approve_its_own_waiver(api: Api) -> None:
    target = f"{api.names['acme']}/prod"
    admin = api.token("platform-admin")
    made = api.send("POST", "/api/v1/waivers", admin, {"rule": "restore-proven", "target": target,
                                                      "reason": "x", "days": 1}).json()
    own = api.send("POST", f"/api/v1/waivers/{made['id']}/approval", admin)
    assert own.status_code == 400 and "separation of duties" in own.json()["detail"]


def test_schedules_and_wake_through_the_api(api: Api) -> None:
    target = f"{api.names['acme']}/prod"
    admin, auditor = api.token("erp-admin"), api.token("auditor")
    assert api.get("/api/v1/schedules", auditor).json() == []  # nothing in this estate sleeps
    assert api.send("POST", f"/api/v1/environments/{target}/wake", auditor).status_code == 403
    never = api.send("POST", f"/api/v1/environments/{target}/wake", admin)
    assert never.status_code == 400 and "never sleeps" in never.json()["detail"]
    assert api.send("POST", "/api/v1/environments/nosuch/prod/wake", admin).status_code == 404
