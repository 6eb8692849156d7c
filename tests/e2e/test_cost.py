"""Cost allocation on the local driver: two health sweeps meter a dedicated environment (its
process tree's CPU and memory from /proc, its database and filestore sizes) and a pool (split
between its two tenants by their requests and database time); cost report prices it by tenant and
business unit, as a table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from tests.support.estate import make_estate, unique

pytestmark = pytest.mark.e2e


def test_usage_is_metered_by_the_sweeps_and_priced(tmp_path: Path) -> None:
    big, a, b, pool = unique("big"), unique("a"), unique("b"), unique("std")
    estate = make_estate(tmp_path, {
        big: {"labels": {"business_unit": "retail"}, "environments": {"prod": {}}},
        a: {"labels": {"business_unit": "retail"}, "environments": {"prod": {"placement": {"shared": pool}}}},
        b: {"labels": {"business_unit": "wholesale"}, "environments": {"prod": {"placement": {"shared": pool}}}},
    })
    estate.data["pools"] = {pool: {"processes": 1, "workers": 0}}
    estate.data["cost"] = {"currency": "EUR", "price_book": {
        "vcpu_hour": 0.04, "gib_hour": 0.005, "storage_gb_month": 0.10, "backup_gb_month": 0.02, "egress_gb": 0.09}}
    estate.write()
    f = ("-f", str(estate.path))
    try:
        estate.cli("apply", str(estate.path), "-q")
        estate.cli("health", *f, "--json", check=False)  # the counters' first readings
        for host in [f"{a}-prod.localhost"] * 40 + [f"{big}-prod.localhost"] * 40:  # b's users are idle
            answer = httpx.get(f"http://127.0.0.1:{estate.edge_port}/web/login", headers={"Host": host}, timeout=30)
            assert answer.status_code == 200
        estate.cli("health", *f, "--json", check=False)

        done = json.loads(estate.cli("cost", "report", *f, "--json").stdout)
        assert done["currency"] == "EUR" and done["by"] == "tenant"
        (month,) = done["months"]
        envs = {e["tenant"]: e for e in month["environments"]}
        ded, pa, pb = envs[big], envs[a], envs[b]
        assert ded["basis"] == "measured" and ded["measured_hours"] == 1
        assert ded["vcpu_hours"] > 0 and ded["gib_hours"] > 0.01  # an Odoo process tree, measured
        assert ded["storage_gb_month"] > 0 and ded["compute"] > 0
        assert pa["basis"] == "pool share by activity" and pa["requests"] >= 40 > pb["requests"]
        assert pa["vcpu_hours"] > pb["vcpu_hours"] > 0  # a did more: it carries more of the pool
        assert pa["egress_gb"] > pb["egress_gb"]
        lines = {line["key"]: line for line in month["lines"]}
        assert lines[big]["total"] == pytest.approx(ded["total"], abs=1e-4)
        assert month["total"] == pytest.approx(sum(e["total"] for e in month["environments"]), abs=1e-3)

        by_unit = estate.cli("cost", "report", *f, "--by", "business_unit", "--csv").stdout
        rows = list(csv.DictReader(io.StringIO(by_unit)))
        assert {r["business_unit"] for r in rows} == {"retail", "wholesale"}
        retail = next(r for r in rows if r["business_unit"] == "retail")
        assert retail["environments"] == "2" and float(retail["total"]) > 0 and retail["currency"] == "EUR"

        table = estate.cli("cost", "report", *f, "--months", "3").stdout
        assert big in table and "total" in table
        bad = estate.cli("cost", "report", *f, "--by", "colour", check=False)
        assert bad.returncode == 2 and "--by" in bad.stderr
    finally:
        estate.cli("down", *f, "--purge", "--yes", check=False)
