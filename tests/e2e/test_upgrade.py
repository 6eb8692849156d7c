"""Releases end to end: an environment created on a release records what it runs; a new release is
an upgrade that updates only the changed modules and installs the ones declared with it; an upgrade
that fails (a broken data file) rolls back by itself (previous database and code), the tenant serves
again, the failure names its real cause and the release is held until it changes; history shows it
all."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.estate import TestEstate, make_estate, open_to_all, owned_objects, shared_dir, unique

pytestmark = pytest.mark.e2e


def addon(root: Path, release: str, name: str, version: str, *, body: str = "", xml: str | None = None) -> str:
    """A module in ``addons/<release>`` (in a directory Odoo's service user may read, standing in
    for ``root``); with ``xml``, a data file ``data/shop.xml`` holding it. Return the directory."""
    module = shared_dir(root) / "addons" / release / name
    module.mkdir(parents=True, exist_ok=True)
    data = ["data/shop.xml"] if xml is not None else []
    (module / "__manifest__.py").write_text(repr({"name": name, "version": version, "depends": ["base"],
                                                   "data": data, "license": "LGPL-3"}) + "\n")
    (module / "__init__.py").write_text(body)
    if xml is not None:
        (module / "data").mkdir(exist_ok=True)
        (module / "data" / "shop.xml").write_text(xml)
    open_to_all(shared_dir(root) / "addons")
    return str(module.parent)


# A record naming an external id that exists nowhere: Odoo raises "External ID not found" inside
# the record, and wraps it as "ParseError: while parsing …/shop.xml:2, somewhere inside".
BROKEN_DATA = """<odoo>
  <record id="shop_partner" model="res.partner">
    <field name="name">Shop</field>
    <field name="parent_id" ref="no_such_partner"/>
  </record>
</odoo>
"""
FIXED_DATA = BROKEN_DATA.replace('ref="no_such_partner"', 'ref="base.main_partner"')


def on_r1(tmp_path: Path, tenant: str, r2: list[str]) -> TestEstate:
    """An estate whose ``tenant/prod`` runs shop_custom 1.0 on release r1, with release r2 made of ``r2``."""
    estate = make_estate(tmp_path, {tenant: {"environments": {"prod": {
        "release": "r1", "modules": ["shop_custom"], "backup": False}}}})
    estate.data["releases"] = {"r1": {"stack": "odoo", "addons": [addon(tmp_path, "r1", "shop_custom", "1.0")]},
                               "r2": {"stack": "odoo", "addons": r2}}
    estate.write()
    return estate


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
        "r3": {"stack": "odoo", "addons": [addon(tmp_path, "r3", "shop_custom", "1.2", xml=BROKEN_DATA),
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

        # r3's shop_custom has a data file naming an external id that exists nowhere.
        before = db_oid(db)
        set_release(estate, t, "r3")
        failed = estate.cli("apply", str(estate.path), "--json", check=False)
        assert failed.returncode == 1
        result = json.loads(failed.stdout)
        (upgrade,) = result["upgrades"]
        error = upgrade["error"] or ""
        assert upgrade["status"] == "rolled-back", upgrade
        # The real cause and where it is, not the "somewhere inside" Odoo wraps it in.
        assert "External ID not found in the system: shop_custom.no_such_partner" in error, error
        assert "(while parsing " in error and "r3/shop_custom/data/shop.xml:2" in error, error
        assert "somewhere inside" not in error
        assert any("rolled back" in f and "no_such_partner" in f for f in result["failures"])
        assert db_oid(db) != before  # the snapshot came back in place of the half-upgraded database
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        conf = (estate.runtime_dir / "envs" / f"{t}__prod" / "odoo.conf").read_text()
        assert "addons/r2" in conf and "addons/r3" not in conf, conf
        assert serves(estate, host) == 200

        history = json.loads(estate.cli("history", f"{t}/prod", "-f", str(estate.path), "--json").stdout)
        kinds = [(e["kind"], e["release"], e["status"]) for e in history]
        assert kinds[:3] == [("rollback", "r3", "rolled-back"), ("upgrade", "r2", "ok"), ("install", "r1", "ok")]
        assert history[0]["from_release"] == "r2" and history[0]["downtime_s"] > 0
        assert history[0]["detail"]["error"] == error
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_failed_release_is_held_until_its_content_changes_or_a_retry_is_asked(tmp_path: Path) -> None:
    t = unique("u")
    estate = on_r1(tmp_path, t, [addon(tmp_path, "r2", "shop_custom", "1.1", xml=BROKEN_DATA)])
    db, target = f"{t}_prod", f"{t}/prod"

    def history() -> list[tuple[str, str, str]]:
        """The attempts (installs, upgrades, rollbacks), newest first."""
        events = json.loads(estate.cli("history", target, "-f", str(estate.path), "--json").stdout)
        attempts = ("install", "upgrade", "rollback")
        return [(e["kind"], e["release"], e["status"]) for e in events if e["kind"] in attempts]

    try:
        estate.cli("apply", str(estate.path), "-q")
        set_release(estate, t, "r2")
        assert estate.cli("apply", str(estate.path), "-q", check=False).returncode == 1
        assert history()[:2] == [("rollback", "r2", "rolled-back"), ("install", "r1", "ok")]

        # The same content would fail the same way: held, not tried again (no downtime) by apply.
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        (change,) = plan["changes"]
        assert (change["resource"], change["action"]) == ("release", "hold") and plan["empty"], plan
        assert re.match(r"r2 failed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, rolled back \(runs r1\): ",
                        change["reason"]), change
        assert "no_such_partner" in change["reason"]
        again = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
        assert again["ok"] and again["upgrades"] == [], again
        assert history()[0] == ("rollback", "r2", "rolled-back") and len(history()) == 2
        (row,) = estate.status()["environments"]
        assert row["release"] == "r1" and row["release_failed"].startswith("r2 failed at "), row
        assert "no_such_partner" in row["release_failed"]
        table = estate.cli("status", "-f", str(estate.path), check=False).stdout
        assert f"{target}: r2 failed at " in table

        # On request it is tried again (and fails again, the same way): apply --retry-failed, or promote.
        plan = json.loads(estate.cli("plan", str(estate.path), "--retry-failed", "--json").stdout)
        assert [(c["resource"], c["action"]) for c in plan["changes"]] == [("release", "upgrade")], plan
        retried = estate.cli("apply", str(estate.path), "--retry-failed", "--json", check=False)
        assert retried.returncode == 1 and json.loads(retried.stdout)["upgrades"][0]["status"] == "rolled-back"
        promoted = estate.cli("promote", "r2", "--to", target, "-f", str(estate.path), "--json", check=False)
        assert promoted.returncode == 1, promoted.stdout + promoted.stderr
        (outcome,) = json.loads(promoted.stdout)["targets"]
        assert outcome["decision"] == "allowed" and outcome["upgrade"]["status"] == "rolled-back", outcome
        assert [k for k, _, _ in history()] == ["rollback", "rollback", "rollback", "install"]

        # Once the release's content changes, apply tries it again by itself.
        (shared_dir(tmp_path) / "addons" / "r2" / "shop_custom" / "data" / "shop.xml").write_text(FIXED_DATA)
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert [(c["resource"], c["action"]) for c in plan["changes"]] == [("release", "upgrade")], plan
        assert "its content changed" in plan["changes"][0]["reason"]
        estate.cli("apply", str(estate.path), "-q")
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        assert history()[0] == ("upgrade", "r2", "ok")
        assert estate.status()["environments"][0]["release_failed"] is None
        assert json.loads(estate.cli("plan", str(estate.path), "--json").stdout)["changes"] == []
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)


def test_module_declared_with_a_new_release_is_installed_by_the_same_apply(tmp_path: Path) -> None:
    t = unique("u")
    # shop_loyalty exists only in r2: it can only be installed on r2's code.
    estate = on_r1(tmp_path, t, [addon(tmp_path, "r2", "shop_custom", "1.1", body="# v2\n"),
                                 addon(tmp_path, "r2", "shop_loyalty", "1.0", xml=FIXED_DATA)])
    db = f"{t}_prod"
    try:
        estate.cli("apply", str(estate.path), "-q")
        env = estate.data["tenants"][t]["environments"]["prod"]
        env.update(release="r2", modules=["shop_custom", "shop_loyalty"])
        estate.write()
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert [(c["resource"], c["action"], c["reason"]) for c in plan["changes"]] == [
            ("release", "upgrade", "r1 → r2"), ("modules", "install", "install shop_loyalty with the upgrade")]
        done = json.loads(estate.cli("apply", str(estate.path), "--json").stdout)
        (upgrade,) = done["upgrades"]
        assert upgrade["status"] == "upgraded" and upgrade["installed"] == ["shop_loyalty"], upgrade
        assert module_row(db, "shop_loyalty") == ("installed", "18.0.1.0")
        assert module_row(db, "shop_custom") == ("installed", "18.0.1.1")
        assert json.loads(estate.cli("plan", str(estate.path), "--json").stdout)["changes"] == []

        # The marker states only what was read back: a module Odoo cannot find is never claimed.
        env["modules"] = ["shop_custom", "shop_loyalty", "shop_nowhere"]
        estate.write()
        failed = estate.cli("apply", str(estate.path), "--json", check=False)
        assert failed.returncode == 1
        assert any("without installing shop_nowhere (not on the addons path)" in f
                   for f in json.loads(failed.stdout)["failures"]), failed.stdout
        plan = json.loads(estate.cli("plan", str(estate.path), "--json").stdout)
        assert [(c["resource"], c["action"]) for c in plan["changes"]] == [("modules", "install")], plan
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
    estate = on_r1(tmp_path, t, [addon(tmp_path, "r2", "shop_custom", "1.1", body="# v2\n")])
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


@pytest.mark.skipif(os.geteuid() != 0, reason="Odoo runs as a service user only when Odooplane runs as root")
def test_addons_odoos_service_user_cannot_read_are_refused_before_anything_starts(tmp_path: Path) -> None:
    t = unique("u")
    module = tmp_path / "closed" / "shop_custom"
    module.mkdir(parents=True)
    (module / "__manifest__.py").write_text(repr({"name": "shop_custom", "version": "1.0", "depends": ["base"]}))
    estate = make_estate(tmp_path, {t: {"environments": {"prod": {"release": "r1", "backup": False}}}})
    estate.data["releases"] = {"r1": {"stack": "odoo", "addons": ["closed"]}}
    estate.write()
    try:
        out = estate.cli("apply", str(estate.path), check=False)
        assert out.returncode == 1
        assert "odooplane-odoo cannot read the addons directory" in out.stderr and "is closed to it" in out.stderr
        assert owned_objects(estate.estate_id())[0] == set(), "nothing was created for it"
    finally:
        estate.cli("down", "-f", str(estate.path), "--purge", "--yes", check=False)
