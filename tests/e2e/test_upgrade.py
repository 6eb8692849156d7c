"""Releases end to end: an environment created on a release records what it runs; a new release is
an upgrade that updates only the changed modules; an upgrade the simulator is told to fail rolls
back by itself (previous database and code) and the tenant serves again; history shows it all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.estate import TestEstate, make_estate, unique

pytestmark = pytest.mark.e2e


def addon(root: Path, release: str, name: str, version: str, *, body: str = "") -> str:
    module = root / "addons" / release / name
    module.mkdir(parents=True, exist_ok=True)
    (module / "__manifest__.py").write_text(repr({"name": name, "version": version, "depends": ["base"],
                                                   "license": "LGPL-3"}) + "\n")
    (module / "__init__.py").write_text(body)
    return f"addons/{release}"


def module_row(database: str, name: str) -> tuple[Any, ...] | None:
    url = os.environ["ODOOPLANE_TEST_PG"].rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state, latest_version FROM ir_module_module WHERE name = %s", (name,)).fetchone()


def db_oid(database: str) -> int:
    with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (database,)).fetchone()
    assert row is not None
    return int(row[0])


def serves(estate: TestEstate, host: str) -> int:
    port = estate.data["platform"]["edge"]["http_port"]
    return httpx.get(f"http://127.0.0.1:{port}/web/login", headers={"Host": host}, timeout=30).status_code


def set_release(estate: TestEstate, tenant: str, release: str, **options: str) -> None:
    env = estate.data["tenants"][tenant]["environments"]["prod"]
    env["release"] = release
    if options:
        env["options"] = options
    estate.write()


def test_upgrade_updates_changed_modules_and_rolls_back_a_failure(tmp_path: Path) -> None:
    t = unique("u")
    rels = {
        # shop_extra is identical in every release: it must never be updated.
        "r1": {"stack": "odoo", "addons": [addon(tmp_path, "r1", "shop_custom", "1.0"),
                                           addon(tmp_path, "r1", "shop_extra", "1.0")]},
        "r2": {"stack": "odoo", "addons": [addon(tmp_path, "r2", "shop_custom", "1.1", body="# picking rework\n"),
                                           addon(tmp_path, "r2", "shop_extra", "1.0")]},
        "r3": {"stack": "odoo", "addons": [addon(tmp_path, "r3", "shop_custom", "1.2", body="# broken\n"),
                                           addon(tmp_path, "r3", "shop_extra", "1.0")]},
    }
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {
        "release": "r1", "modules": ["shop_custom", "shop_extra"], "backup": False}}}})
    estate.data["releases"] = rels
    estate.write()
    db, host = f"{t}_prod", f"{t}-prod.localhost"
    try:
        estate.cli("apply", str(estate.path), "-q")
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.0")
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert plan["changes"] == []

        set_release(estate, t, "r2")
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        changes = [(c["target"], c["resource"], c["action"]) for c in plan["changes"]]
        assert changes == [(f"{t}/prod", "release", "upgrade")]
        done = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
        (upgrade,) = done["upgrades"]
        assert upgrade["status"] == "upgraded" and upgrade["updated"] == ["shop_custom"], upgrade
        assert upgrade["downtime_s"] > 0 and set(upgrade["steps"]) >= {"stop", "snapshot", "update", "start"}
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        assert serves(estate, host) == 200
        again = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert again["changes"] == []

        # The simulator is told to fail the next upgrade of shop_custom.
        before = db_oid(db)
        set_release(estate, t, "r3", sim_fail_upgrade="shop_custom")
        failed = estate.cli("apply", str(estate.path), "--json", check=False)
        assert failed.returncode == 1
        result = json.loads(failed.stdout)
        (upgrade,) = result["upgrades"]
        assert upgrade["status"] == "rolled-back" and "shop_custom" in (upgrade["error"] or ""), upgrade
        assert any("rolled back" in f for f in result["failures"])
        assert db_oid(db) != before  # the snapshot came back in place of the half-upgraded database
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        conf = (estate.data_dir / "envs" / f"{t}__prod" / "odoo.conf").read_text()
        assert "addons/r2" in conf and "addons/r3" not in conf and "sim_fail_upgrade" not in conf, conf
        assert serves(estate, host) == 200

        history = json.loads(estate.cli("history", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
        kinds = [(e["kind"], e["release"], e["status"]) for e in history]
        assert kinds[:3] == [("rollback", "r3", "rolled-back"), ("upgrade", "r2", "ok"), ("install", "r1", "ok")]
        assert history[0]["from_release"] == "r2" and history[0]["downtime_s"] > 0
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_bad_release_references_are_path_precise(tmp_path: Path) -> None:
    t = unique("u")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {"release": "nope"},
                                                         "dev": {"release": "r1", "stack": "other"}}}})
    estate.data["releases"] = {"Bad Id": {"stack": "odoo"}}
    estate.write()
    checked = estate.cli("validate", str(estate.path), check=False)
    assert checked.returncode == 2 and "is not a release id" in checked.stdout + checked.stderr

    estate.data["releases"] = {"r1": {"stack": "odoo", "addons": ["addons/missing"]}}
    estate.write()
    checked = estate.cli("validate", str(estate.path), check=False)
    assert checked.returncode == 2
    out = checked.stdout + checked.stderr
    assert f"tenants.{t}.environments.prod.release: unknown release 'nope'" in out
    assert "releases.r1.addons[0]" in out and "is not a directory" in out
    assert f"tenants.{t}.environments.dev.stack" in out and "the release decides the code" in out


@pytest.mark.parametrize("step", ["update", "start"])
def test_upgrade_killed_midway_converges(tmp_path: Path, step: str) -> None:
    t = unique("u")
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {
        "release": "r1", "modules": ["shop_custom"], "backup": False}}}})
    estate.data["releases"] = {
        "r1": {"stack": "odoo", "addons": [addon(tmp_path, "r1", "shop_custom", "1.0")]},
        "r2": {"stack": "odoo", "addons": [addon(tmp_path, "r2", "shop_custom", "1.1", body="# v2\n")]},
    }
    estate.write()
    db, host = f"{t}_prod", f"{t}-prod.localhost"
    try:
        estate.cli("apply", str(estate.path), "-q")
        set_release(estate, t, "r2")
        killed = estate.cli("apply", str(estate.path), "-q", check=False,
                            extra_env={"ODOOPLANE_TEST_KILL_AT": f"{step}:{t}/prod:after"})
        assert killed.returncode == -9, killed.stderr
        estate.cli("apply", str(estate.path), "-q")
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        assert serves(estate, host) == 200
        with psycopg.connect(os.environ["ODOOPLANE_TEST_PG"]) as conn:
            left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{db}__%",)).fetchall()
        assert left == []
        history = json.loads(estate.cli("history", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
        assert (history[0]["kind"], history[0]["release"], history[0]["status"]) == ("upgrade", "r2", "ok")
        assert "recover" in history[0]["detail"]["steps"]
        assert json.loads(estate.cli("plan", str(estate.path), "--json").stdout)["changes"] == []
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
