"""Non-production sleeping outside its hours on the local driver: the worker puts a scheduled
staging to sleep (its Odoo stopped, its database kept), status and plan say it is asleep rather than
broken, a request through the edge gets the waker's "waking up" page and wakes it, and it serves
again within a measured time; production can never be scheduled (a guardrail)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


def schedule_status(estate: TestEstate) -> dict[str, Any]:
    rows = json.loads(estate.cli("schedule", "status", "-f", str(estate.path), "--json").stdout)
    return {r["target"]: r for r in rows}


def poll(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_staging_sleeps_outside_its_hours_and_a_request_wakes_it(tmp_path: Path) -> None:
    t = unique("z")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}, "staging": {}}}})
    now = dt.datetime.now(dt.UTC)
    # Awake one minute a day, hours from now: asleep for the whole test.
    start = (now + dt.timedelta(hours=3)).replace(minute=0)
    if start.hour == 23:
        start = start.replace(hour=1)
    estate.data["schedules"] = {"office": {
        "timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": f"{start:%H}:00", "end": f"{start:%H}:01", "wake_minutes": 30,
        "applies_to": {"stage": ["staging", "development"]}}}
    estate.write()
    f = ("-f", str(estate.path))
    staging, host = f"{t}/staging", f"{t}-staging.localhost"
    try:
        estate.cli("apply", str(estate.path), "-q")
        # The worker (kept running by apply) puts it to sleep at its first tick.
        row = poll("staging asleep", lambda: (r := schedule_status(estate)[staging])["asleep"] and r)
        assert row["schedule"] == "office" and row["awake_wanted"] is False and row["next_change"]
        assert f"{t}/prod" not in schedule_status(estate)  # production has no schedule

        status = estate.status()
        envs = {e["target"]: e for e in status["environments"]}
        assert envs[staging]["state"] == "asleep" and envs[staging]["health"] == "asleep"
        assert envs[staging]["pid"] is None  # its Odoo is stopped
        assert status["healthy"], [(e["target"], e["health"]) for e in status["environments"]]
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert plan["empty"], plan["changes"]  # asleep on purpose: nothing to start
        estate.cli("apply", str(estate.path), "-q")  # an apply leaves it asleep
        assert schedule_status(estate)[staging]["asleep"]
        assert {e["target"]: e for e in estate.status()["environments"]}[staging]["pid"] is None

        started = time.monotonic()
        first = httpx.get(f"http://127.0.0.1:{estate.edge_port}/web/login", headers={"Host": host}, timeout=30)
        assert first.status_code == 503 and "Waking up" in first.text, first.text[:300]
        assert first.headers["retry-after"] == "5"
        served = poll("staging serving again", lambda: httpx.get(
            f"http://127.0.0.1:{estate.edge_port}/web/login", headers={"Host": host}, timeout=30).status_code == 200)
        woke_in = time.monotonic() - started
        assert served and woke_in < 120, woke_in
        row = schedule_status(estate)[staging]
        assert row["asleep"] is False and row["awake_until"]  # kept awake for its wake_minutes

        report = json.loads(estate.cli("cost", "report", *f, "--json").stdout)
        (month,) = report["months"]
        slept = {e["target"]: e["asleep_hours"] for e in month["environments"]}
        assert slept[staging] > 0 and slept[f"{t}/prod"] == 0  # the hours it slept, counted

        refused = estate.cli("wake", f"{t}/prod", *f, check=False)
        assert refused.returncode == 2 and "never sleeps" in refused.stderr

        # Production can never be scheduled to sleep.
        estate.data["tenants"][t]["environments"]["prod"]["schedule"] = "office"
        estate.write()
        check = estate.cli("validate", str(estate.path), check=False)
        assert check.returncode == 8 and "production-never-sleeps" in check.stderr, check.stderr
    finally:
        estate.data["tenants"][t]["environments"]["prod"].pop("schedule", None)
        estate.write()
        estate.cli("down", *f, "--purge", "--yes", check=False)
