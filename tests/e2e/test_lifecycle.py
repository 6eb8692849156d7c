"""End to end through the CLI: apply an estate, reach each tenant through Traefik by Host header
on its own database, plan shows nothing to do, down --purge leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.estate import make_estate, owned_objects, unique

pytestmark = pytest.mark.e2e


def test_two_tenants_routed_isolated_and_purged(tmp_path: Path) -> None:
    a, b = unique("a"), unique("b")
    estate = make_estate(tmp_path, {
        a: {"environments": {"prod": {"workers": 2}, "staging": {}}},
        b: {"environments": {"prod": {"modules": ["sale_management"]}}},
    })
    estate.cli("validate", str(estate.path))
    plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
    assert not plan["empty"]
    assert {(c["resource"], c["action"]) for c in plan["changes"]} >= {("environment", "create"), ("edge", "start")}
    applied = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
    assert applied["ok"] is True

    base = f"http://127.0.0.1:{estate.edge_port}"
    assert estate.session_db(f"{a}/prod") == f"{a}_prod"
    assert estate.session_db(f"{a}/staging") == f"{a}_staging"
    assert estate.session_db(f"{b}/prod") == f"{b}_prod"
    login = httpx.get(f"{base}/web/login", headers={"Host": f"{b}-prod.localhost"})
    assert login.status_code == 200 and "csrf_token" in login.text
    assert httpx.get(f"{base}/web/database/manager", headers={"Host": f"{b}-prod.localhost"}).status_code == 403
    assert httpx.get(f"{base}/web/login", headers={"Host": "unknown.localhost"}).status_code == 404

    status = estate.status()
    assert status["healthy"] is True
    rows = {r["target"]: r for r in status["environments"]}
    assert rows[f"{a}/prod"]["state"] == "running" and rows[f"{a}/prod"]["route"] == "served"
    assert rows[f"{a}/prod"]["pid"] and rows[f"{a}/prod"]["http_port"]

    # Each environment's role reaches its own database only.
    url = estate.cluster_url()
    a_password = estate.secret(f"env/{a}/prod/db_password")
    base_pg = url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    with psycopg.connect(f"postgresql://{a}_prod:{a_password}@{base_pg}/{a}_prod") as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (f"{a}_prod",)
    for other in (f"{b}_prod", f"{a}_staging"):
        with pytest.raises(psycopg.OperationalError, match=r"permission denied"):
            psycopg.connect(f"postgresql://{a}_prod:{a_password}@{base_pg}/{other}").close()

    logs = estate.cli("logs", f"{a}/prod", "-f", str(estate.path), "--grep", "GET /web/login", "-n", "5").stdout
    assert "GET /web/login" in logs and all("GET /web/login" in line for line in logs.splitlines())

    again = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
    assert again["empty"] is True, again["changes"]
    noop = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
    assert noop["ok"] and noop["steps"] == []

    estate_id = estate.estate_id()
    assert owned_objects(estate_id) == ({f"{a}_prod", f"{a}_staging", f"{b}_prod"},) * 2
    estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
    assert owned_objects(estate_id) == (set(), set())
    assert not (estate.runtime_dir / "envs").exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/web/health", timeout=2)


def test_removed_environment_is_stopped_and_its_data_kept_until_prune(tmp_path: Path) -> None:
    t = unique("r")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}, "dev": {}}}})
    estate.cli("apply", str(estate.path), "-q")
    del estate.data["tenants"][t]["environments"]["dev"]
    estate.write()
    plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
    actions = {(c["resource"], c["action"]) for c in plan["changes"]}
    assert ("process", "remove") in actions and ("route", "remove") in actions and ("database", "retain") in actions
    estate.cli("apply", str(estate.path), "-q")
    status = estate.status()
    assert [r["target"] for r in status["environments"]] == [f"{t}/prod"]
    estate_id = estate.estate_id()
    assert f"{t}_dev" in owned_objects(estate_id)[0]
    estate.cli("apply", str(estate.path), "--prune", "-q")
    assert owned_objects(estate_id) == ({f"{t}_prod"}, {f"{t}_prod"})
    assert not (estate.runtime_dir / "envs" / f"{t}__dev").exists()
    estate.cli("down", "-f", str(estate.path), "--purge", "--yes")


def test_postgresql_state_store(tmp_path: Path, scratch_db: str) -> None:
    t = unique("q")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {}}}})
    estate.data["platform"]["state_db"] = scratch_db
    estate.write()
    estate.cli("apply", str(estate.path), "-q")
    with psycopg.connect(scratch_db) as conn:
        kinds = conn.execute("SELECT kind, status FROM operations ORDER BY id").fetchall()
        secrets = conn.execute("SELECT name FROM secrets").fetchall()
    assert kinds == [("apply", "succeeded")]
    assert (f"env/{t}/prod/db_password",) in secrets
    assert not (estate.data_dir / "state.db").exists()
    estate.cli("down", "-f", str(estate.path), "--purge", "--yes")
