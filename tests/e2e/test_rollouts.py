"""A rollout wave taken from assessment to regional rollout on real facts: sign-offs by the roles
the rollout names, no-go while an item does not hold, a restore proven, the cutover rehearsed (a
clone restored and timed), monitoring green; then rolled back a phase."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


LATER: dict[str, str] = {}  # ODOOPLANE_FAKE_NOW once the test waits for monitoring to have watched long enough


def run(estate: TestEstate, *args: str, who: str = "ops", check: bool = True) -> Any:
    proc = estate.cli("rollout", *args, "-f", str(estate.path), check=False, timeout=600,
                      extra_env={"ODOOPLANE_ACTOR": who, **LATER})
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def wave(estate: TestEstate, name: str) -> dict[str, Any]:
    (found,) = json.loads(run(estate, "status", "warehouses", "--wave", name, "--json").stdout)
    return found  # type: ignore[no-any-return]


def items(found: dict[str, Any]) -> dict[str, bool]:
    return {i["name"]: i["ok"] for i in found["items"]}


def test_a_wave_goes_through_its_phases_on_verified_facts(tmp_path: Path) -> None:
    lyon, lille = unique("ly"), unique("li")
    estate = make_estate(tmp_path, {
        lyon: {"labels": {"site": "lyon"}, "environments": {"prod": {}, "staging": {}}},
        lille: {"labels": {"site": "lille"}, "environments": {"prod": {}}},
    })
    estate.data["rollouts"] = {"warehouses": {
        "description": "warehouses onto Odoo 18",
        "waves": [{"name": "wave-1", "sites": ["lyon"]}, {"name": "wave-2", "sites": ["lille"]}],
        "signoff_roles": {"inventory": ["it-lead"], "pilot-acceptance": ["business-owner"]},
        "monitoring_hours": 1}}
    estate.data["change_management"] = {"people": {"ines": {"roles": ["it-lead"]},
                                                   "bea": {"roles": ["business-owner"]}}}
    estate.write()
    f = ("-f", str(estate.path))
    prod = f"{lyon}/prod"
    LATER.clear()
    try:
        estate.cli("apply", str(estate.path), "-q")
        first = wave(estate, "wave-1")
        assert first["phase"] == "assessment" and first["productions"] == [prod] and not first["go"]
        assert items(first) == {"environments-declared": True, "inventory": False}

        nogo = run(estate, "advance", "warehouses", "wave-1", check=False)
        assert nogo.returncode == 1 and "no-go" in nogo.stderr and "inventory" in nogo.stderr
        refused = run(estate, "sign", "warehouses", "wave-1", "inventory", who="bob", check=False)
        assert refused.returncode == 2 and "it-lead" in refused.stderr
        run(estate, "sign", "warehouses", "wave-1", "inventory", who="ines")
        assert json.loads(run(estate, "advance", "warehouses", "wave-1", "--json").stdout)["phase"] == "foundation"

        foundation = items(wave(estate, "wave-1"))
        assert foundation == {"backup-policy": True, "restore-proven": False, "hostnames-answer": True,
                              "guardrails-pass": False}  # never proven: the restore-proven guardrail fails too
        estate.cli("backup", "run", prod, *f)
        estate.cli("verify", prod, *f, timeout=600)
        assert all(items(wave(estate, "wave-1")).values())
        run(estate, "advance", "warehouses", "wave-1")

        pilot = wave(estate, "wave-1")
        assert pilot["phase"] == "pilot" and items(pilot)["cutover-rehearsed"] is False
        rehearsed = json.loads(run(estate, "rehearse", "warehouses", "wave-1", "--json").stdout)
        assert [(r["source"], r["target"], r["ok"]) for r in rehearsed] == [(prod, f"{lyon}/staging", True)]
        assert rehearsed[0]["seconds"] > 0
        estate.cli("health", *f, "--json", check=False)  # a sweep for monitoring-green
        assert items(wave(estate, "wave-1"))["monitoring-green"] is False  # watched for minutes, not an hour
        # Fifty-seven minutes on (of the hour the rollout asks for), that sweep covers the window.
        LATER["ODOOPLANE_FAKE_NOW"] = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=57)).isoformat()
        run(estate, "sign", "warehouses", "wave-1", "pilot-acceptance", who="bea")
        pilot = wave(estate, "wave-1")
        assert items(pilot) == {"cutover-rehearsed": True, "monitoring-green": True, "pilot-acceptance": True}, \
            [(i["name"], i["evidence"]) for i in pilot["items"]]
        assert "signed by bea" in next(i["evidence"] for i in pilot["items"] if i["name"] == "pilot-acceptance")
        run(estate, "advance", "warehouses", "wave-1")
        assert wave(estate, "wave-1")["phase"] == "regional-rollout"

        back = json.loads(run(estate, "back", "warehouses", "wave-1", "--reason", "stock counts wrong",
                              "--json").stdout)
        assert back["phase"] == "pilot"
        assert items(wave(estate, "wave-1"))["pilot-acceptance"] is False  # signed before it went back
        assert wave(estate, "wave-2")["phase"] == "assessment"  # the other wave did not move
        evidence = json.loads(estate.cli("evidence", *f, "--kind", "rehearsal", "--json").stdout)
        assert [e["target"] for e in evidence] == [prod] and evidence[0]["ok"]
        entries = json.loads(estate.cli("audit", *f, "--json", "-n", "200").stdout)["items"]
        assert {"rollout advance", "rollout sign-off", "rollout back"} <= {e["action"] for e in entries}
        assert run(estate, "status", "nosuch", check=False).returncode == 3
    finally:
        estate.cli("down", *f, "--purge", "--yes", check=False)
