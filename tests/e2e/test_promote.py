"""Promotion through the gates, end to end, with a shifted clock (ODOOPLANE_FAKE_NOW) and named
people (ODOOPLANE_ACTOR): the previous stage, approvals with separation of duties, the maintenance
window, a freeze and the emergency override each block or pass as the policy says; every decision
is in the history and the audit log; an allowed promotion upgrades the environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_upgrade import addon, module_row
from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e

WEDNESDAY = "2026-11-25T10:00:00+00:00"  # outside the weekend window
FROZEN_SATURDAY = "2026-12-05T10:00:00+00:00"  # inside the window, inside the freeze
SATURDAY = "2026-11-28T10:00:00+00:00"


def as_(estate: TestEstate, who: str, at: str, *args: str) -> Any:
    return estate.cli(*args, "-f", str(estate.path), check=False,
                      extra_env={"ODOOPLANE_ACTOR": who, "ODOOPLANE_FAKE_NOW": at})


def gates_of(result: dict[str, Any]) -> dict[str, bool]:
    (target,) = result["targets"]
    return {g["gate"]: g["passed"] for g in target["gates"]}


def test_gates_decide_promotions(tmp_path: Path) -> None:
    t = unique("p")
    estate = make_estate(tmp_path, {t: {"labels": {"tier": "production"}, "environments": {
        "dev": {"release": "r1", "modules": ["shop_custom"], "backup": False},
        "prod": {"release": "r1", "modules": ["shop_custom"], "backup": False}}}})
    estate.data["releases"] = {
        "r1": {"stack": "odoo", "addons": [addon(tmp_path, "r1", "shop_custom", "1.0")]},
        "r2": {"stack": "odoo", "addons": [addon(tmp_path, "r2", "shop_custom", "1.1", body="# new\n")]},
    }
    estate.data["change_management"] = {
        "windows": {"weekend": {"days": ["sat", "sun"], "start": "00:00", "end": "24:00", "timezone": "UTC"}},
        "freezes": {"december": {"start": "2026-12-01", "end": "2026-12-07", "timezone": "UTC"}},
        "policies": {"production": {"windows": ["weekend"], "approvals": {"approvers": 1, "roles": ["cab"]},
                                    "previous_stage": "development", "emergency_roles": ["incident-manager"]}},
        "stage_policies": {"production": "production"},
        "people": {"alice": {"roles": ["release-manager"]}, "bob": {"roles": ["cab"]},
                   "carol": {"roles": ["incident-manager"]}},
    }
    estate.write()
    try:
        estate.cli("apply", str(estate.path), "-q")

        first = as_(estate, "alice", WEDNESDAY, "promote", "r2", "--to", f"{t}/prod", "--json")
        assert first.returncode == 1
        result = json.loads(first.stdout)
        assert gates_of(result) == {"previous-stage": False, "approvals": False, "window": False, "freeze": True,
                                    "emergency": True, "guardrails": True}
        blocked = result["targets"][0]
        assert blocked["decision"] == "blocked" and blocked["next_window"].startswith("2026-11-28T00:00")
        change = blocked["change"]

        # No policy for development: it goes through, and counts as the previous stage.
        dev = as_(estate, "alice", WEDNESDAY, "promote", "r2", "--to", f"{t}/dev", "--json")
        assert dev.returncode == 0, dev.stdout + dev.stderr
        assert json.loads(dev.stdout)["targets"][0]["upgrade"]["status"] == "upgraded"
        assert module_row(f"{t}_dev", "shop_custom") == ("installed", "18.0.1.1")

        own = as_(estate, "alice", WEDNESDAY, "approve", str(change))
        assert own.returncode == 2 and "separation of duties" in own.stderr
        no_role = as_(estate, "carol", WEDNESDAY, "approve", str(change))
        assert no_role.returncode == 2 and "cab" in no_role.stderr
        assert as_(estate, "bob", WEDNESDAY, "approve", str(change)).returncode == 0
        missing = as_(estate, "bob", WEDNESDAY, "approve", "99999")
        assert missing.returncode == 3

        # Approved, previous stage done: only the window blocks on a Wednesday; a freeze on a Saturday.
        second = json.loads(as_(estate, "alice", WEDNESDAY, "promote", "r2", "--to", f"{t}/prod", "--json").stdout)
        assert gates_of(second) == {"previous-stage": True, "approvals": True, "window": False, "freeze": True,
                                    "emergency": True, "guardrails": True}
        frozen = json.loads(as_(estate, "alice", FROZEN_SATURDAY, "promote", "r2", "--to", f"{t}/prod",
                                "--json").stdout)
        assert gates_of(frozen)["window"] is True and gates_of(frozen)["freeze"] is False
        # An emergency by someone without the role lifts nothing.
        wrong = as_(estate, "alice", WEDNESDAY, "promote", "r2", "--to", f"{t}/prod", "--emergency", "--reason",
                    "stock sync broken", "--json")
        assert wrong.returncode == 1 and gates_of(json.loads(wrong.stdout))["emergency"] is False
        assert module_row(f"{t}_prod", "shop_custom") == ("installed", "18.0.1.0")
        # The incident manager's emergency lifts the window (never the approvals), and the upgrade runs.
        urgent = as_(estate, "carol", WEDNESDAY, "promote", "r2", "--to", f"{t}/prod", "--emergency", "--reason",
                     "stock sync broken", "--json")
        assert urgent.returncode == 0, urgent.stdout + urgent.stderr
        done = json.loads(urgent.stdout)["targets"][0]
        assert done["decision"] == "allowed" and done["upgrade"]["status"] == "upgraded"
        assert module_row(f"{t}_prod", "shop_custom") == ("installed", "18.0.1.1")
        assert "release: r2" in estate.path.read_text()

        history = json.loads(estate.cli("history", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
        kinds = [(e["kind"], e["status"], e["actor"]) for e in history]
        assert ("approval", "ok", "bob") in kinds and ("upgrade", "ok", "carol") in kinds
        gate_events = [e for e in history if e["kind"] == "gate"]
        assert [e["status"] for e in gate_events] == ["allowed", "blocked", "blocked", "blocked", "blocked"]
        assert gate_events[0]["detail"]["emergency"] == "stock sync broken"
        audit = estate.cli("operations", "-f", str(estate.path), "--json", check=False)
        assert audit.returncode == 0
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_promote_bad_input(tmp_path: Path) -> None:
    t = unique("p")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {"backup": False}}}})
    estate.data["releases"] = {"r1": {"stack": "odoo"}}
    estate.write()
    unknown = estate.cli("promote", "nope", "--to", f"{t}/prod", "-f", str(estate.path), check=False)
    assert unknown.returncode == 2 and "unknown release 'nope'" in unknown.stderr and "r1" in unknown.stderr
    selector = estate.cli("promote", "r1", "--to", "colour=blue", "-f", str(estate.path), check=False)
    assert selector.returncode == 2 and "key=value" in selector.stderr
    nobody = estate.cli("promote", "r1", "--to", "tier=mission-critical", "-f", str(estate.path), check=False)
    assert nobody.returncode == 3
    reasonless = estate.cli("promote", "r1", "--to", f"{t}/prod", "--emergency", "-f", str(estate.path), check=False)
    assert reasonless.returncode == 2 and "--reason" in reasonless.stderr
