"""Guardrails from the command line: validate and apply refuse an estate that breaks a blocking
rule (nothing applied); a waiver asked for by one person is in force only once someone else, holding
an approving role, approved it, and only until it expires; observed rules read the evidence;
a promotion is blocked by a guardrail at or above block_at."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odooplane.actions.service import Service
from odooplane.store import evidence
from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


def as_(estate: TestEstate, who: str, *args: str, now: str | None = None) -> Any:
    extra = {"ODOOPLANE_ACTOR": who, **({"ODOOPLANE_FAKE_NOW": now} if now else {})}
    return estate.cli(*args, "-f", str(estate.path), check=False, extra_env=extra)


def findings(estate: TestEstate, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    proc = estate.cli("policy", "check", *args, "-f", str(estate.path), "--json", check=False)
    assert proc.returncode in (0, 8), proc.stderr
    return {(f["rule"], f["target"]): f for f in json.loads(proc.stdout)["findings"]}


def database_exists(name: str) -> bool:
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"], autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_a_blocking_violation_stops_validate_and_apply_until_a_waiver_is_approved(tmp_path: Path) -> None:
    t, pool = unique("g"), unique("std")
    estate = make_estate(tmp_path, {t: {"labels": {"compliance": "regulated"},
                                        "environments": {"prod": {"placement": {"shared": pool}}}}})
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.data["guardrails"] = {"waivers": {"approver_roles": ["security"], "max_days": 30}}
    estate.data["change_management"] = {"people": {"carol": {"roles": ["security"]}}}
    estate.write()
    target = f"{t}/prod"

    refused = estate.cli("validate", str(estate.path), check=False)
    assert refused.returncode == 8, (refused.stdout, refused.stderr)
    assert f"{target}: regulated-isolated (critical)" in refused.stderr
    assert "odooplane policy waive" in refused.stderr  # the way out is named
    applied = estate.cli("apply", str(estate.path), "-q", check=False)
    assert applied.returncode == 8 and "apply refused by guardrails" in applied.stderr, applied.stderr
    assert not database_exists(f"{t}_prod")  # nothing was applied

    too_long = as_(estate, "alice", "policy", "waive", "regulated-isolated", target, "--reason", "audit", "--days",
                   "31")
    assert too_long.returncode == 2 and "1 to 30 days" in too_long.stderr
    unknown = as_(estate, "alice", "policy", "waive", "no-such-rule", target, "--reason", "x")
    assert unknown.returncode == 2 and "no such rule" in unknown.stderr
    nobody = as_(estate, "alice", "policy", "waive", "regulated-isolated", "nosuch/prod", "--reason", "x")
    assert nobody.returncode == 3

    asked = as_(estate, "alice", "policy", "waive", "regulated-isolated", target, "--reason",
                "moved to a dedicated stack in Q1", "--days", "10", "--json")
    assert asked.returncode == 0, asked.stderr
    waiver = json.loads(asked.stdout)
    assert waiver["state"] == "requested" and waiver["requested_by"] == "alice"
    assert estate.cli("validate", str(estate.path), check=False).returncode == 8  # not in force yet

    own = as_(estate, "alice", "policy", "approve", str(waiver["id"]))
    assert own.returncode == 2 and "separation of duties" in own.stderr
    no_role = as_(estate, "bob", "policy", "approve", str(waiver["id"]))
    assert no_role.returncode == 2 and "holds none of the roles" in no_role.stderr
    approved = as_(estate, "carol", "policy", "approve", str(waiver["id"]), "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["state"] == "active"

    assert estate.cli("validate", str(estate.path), check=False).returncode == 0
    found = findings(estate, target)[("regulated-isolated", target)]
    assert found["status"] == "waived" and found["waiver"] == waiver["id"]

    # Eleven days on, the waiver has expired: the estate is refused again.
    later = "2099-01-01T00:00:00+00:00"
    expired = estate.cli("validate", str(estate.path), check=False, extra_env={"ODOOPLANE_FAKE_NOW": later})
    assert expired.returncode == 8, expired.stderr
    listed = json.loads(as_(estate, "carol", "policy", "waivers", "--json", now=later).stdout)
    assert [(w["id"], w["state"]) for w in listed] == [(waiver["id"], "expired")]

    revoked = as_(estate, "alice", "policy", "revoke", str(waiver["id"]), "--json")
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_by"] == "alice"
    assert estate.cli("validate", str(estate.path), check=False).returncode == 8
    audit = json.loads(estate.cli("audit", "-f", str(estate.path), "--json").stdout)
    actions = [e["action"] for e in audit["items"]]
    assert {"waiver request", "waiver approval", "waiver revocation"} <= set(actions), actions


def test_observed_rules_read_the_evidence_and_block_a_promotion_at_block_at(tmp_path: Path) -> None:
    t = unique("o")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {"objectives": {"rpo": "1h", "rto": "4h"}},
                                                         "staging": {}}}})
    estate.data["releases"] = {"r2": {"stack": "odoo"}}
    estate.data["guardrails"] = {"block_at": "high", "rules": [
        {"id": "two-workers", "severity": "low", "when": "env.production", "require": "env.workers >= 2",
         "explain": "production serves with two workers", "fix": "workers: 2"}]}
    estate.write()
    prod, staging = f"{t}/prod", f"{t}/staging"
    got = findings(estate)
    assert got[("restore-proven", prod)]["status"] == "fail"
    assert got[("backups-meet-rpo", prod)]["status"] == "fail"
    assert got[("non-production-neutralized", staging)]["status"] == "pass"  # nothing was ever copied into it
    assert (("two-workers", prod) in got) and ("two-workers", staging) not in got
    check = estate.cli("policy", "check", "-f", str(estate.path), check=False)
    assert check.returncode == 8 and "restore-proven" in check.stdout  # high ≥ block_at high
    assert estate.cli("policy", "check", "--fail-on", "critical", "-f", str(estate.path),
                      check=False).returncode == 0

    blocked = estate.cli("promote", "r2", "--to", prod, "-f", str(estate.path), "--json", check=False)
    assert blocked.returncode == 1, blocked.stderr
    (result,) = json.loads(blocked.stdout)["targets"]
    gate = next(g for g in result["gates"] if g["gate"] == "guardrails")
    assert result["decision"] == "blocked" and not gate["passed"] and "restore-proven" in gate["reason"]
    assert "release: r2" not in estate.path.read_text()  # the estate file was not edited

    service = Service.open(estate.path)
    try:
        store = service.context().store
        evidence.add(store, kind="restore-verification", target=prod, ok=True, data={}, summary="proven")
        evidence.add(store, kind="backup", target=prod, ok=True, data={}, summary="confirmed")
        evidence.add(store, kind="restore", target=staging, ok=True, data={"source": prod}, summary="copied")
    finally:
        service.close()
    got = findings(estate)
    assert got[("restore-proven", prod)]["status"] == "pass"
    assert got[("backups-meet-rpo", prod)]["status"] == "pass"
    neutral = got[("non-production-neutralized", staging)]
    assert neutral["status"] == "fail" and "clone" in neutral["fix"]
