"""``promote`` on a kubernetes estate: the environment stopped, its database and filestore
snapshotted by Jobs, Odoo's ``-u`` run in the new release's image (the simulator plays it, or real
Odoo with ODOO_SOURCE/ODOO_PYTHON), the new release's objects applied and checked — and, when the
update fails, the snapshot and the previous release's objects put back by themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg import sql

from odooplane.actions import releases as releases_action
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.store import releases
from tests.integration.drivers.test_kubernetes_backup import Setup, moto, recorder
from tests.integration.drivers.test_kubernetes_clone import Staging, _sql, tenant_estate
from tests.support.apiserver import api
from tests.support.s3 import MotoServer

__all__ = ["moto", "recorder"]  # fixtures

NEW_IMAGE = "odoo:18.0-20261201"


def _releases(doc: dict[str, Any], tenant: str) -> None:
    doc["stacks"]["odoo18next"] = {"series": "18.0", "image": NEW_IMAGE}
    doc["releases"] = {"r1": {"stack": "odoo18"}, "r2": {"stack": "odoo18next"}}
    prod = doc["tenants"][tenant]["environments"]["prod"]
    prod.pop("stack", None)
    prod["release"] = "r1"


@pytest.fixture
def estate(recorder: tuple[object, str], tmp_path: Path, pg_url: str, moto: MotoServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Setup, DesiredEnvironment]]:
    for s, prod, _staging in tenant_estate(recorder, tmp_path, pg_url, moto, monkeypatch, edit=_releases):
        yield s, prod


class Prod(Staging):
    """Odoo behind production's Service: its login page answers while the database has its partners."""

    def __call__(self, namespace: str, service: str, path: str, /,  # type: ignore[override]
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
        rows = _sql(self.pg_url, self.database, "SELECT count(*) FROM res_partner")
        return (200, "<form") if rows and int(str(rows[0][0])) > 0 else (500, "")


def _promote(s: Setup, prod: DesiredEnvironment, pg_url: str) -> releases_action.Promotion:
    return releases_action.promote(s.path, "r2", str(prod.ref), server=api(s.url), cluster_options={
        "wait": 180, "interval": 0.05, "probe": Prod(pg_url, prod.database)})


def _deployment_images(s: Setup, prod: DesiredEnvironment) -> set[str]:
    base = f"{prod.ref.tenant}--prod-"
    return {c["image"] for p, o in s.rec.objects.items() if "/deployments/" in p and o["metadata"]["name"].startswith(
        base) for c in o["spec"]["template"]["spec"]["containers"]}


def _posted(s: Setup) -> list[dict[str, Any]]:
    return [r["body"] for r in s.rec.requests if r["method"] == "POST" and r["path"].endswith("/jobs")]


def test_promote_updates_in_the_new_image_then_serves_it(
        estate: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, prod = estate
    assert _deployment_images(s, prod) == {"odoo:18.0"}
    s.rec.requests.clear()
    result = _promote(s, prod, pg_url)
    [target] = result.targets
    assert result.ok and target.decision == "allowed" and target.upgrade is not None
    assert target.upgrade.status == "upgraded", target.upgrade.error
    jobs = _posted(s)
    assert [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in jobs] == [
        "snapshot-db", "snapshot-fs", "update", "finish-db", "finish-fs"]
    update = jobs[2]["spec"]["template"]["spec"]["containers"][0]
    assert update["image"] == NEW_IMAGE
    assert update["command"][:7] == ["odoo", "-c", "/run/odoo/odoo.conf", "-d", prod.database, "-u", "all"]
    assert {"odoo": [a if a != "/run/odoo/odoo.conf" else str(tmp_path / "pod" / "run" / "odoo.conf")
                     for a in update["command"][1:]]} in s.cluster.ran  # Odoo's update ran
    # Stopped (no pod left) before the snapshot, then the new release's Deployments applied and ready.
    order = [("job", r["body"]["metadata"]["labels"]["app.kubernetes.io/component"]) if r["path"].endswith("/jobs")
             else ("scale", r["body"]["spec"]["replicas"]) if r["content_type"] == "application/merge-patch+json"
             else ("apply", r["path"].rsplit("/", 2)[-2]) for r in s.rec.requests
             if r["method"] in ("POST", "PATCH") and ("/jobs" in r["path"] or "/deployments/" in r["path"])]
    assert order[0] == ("scale", 0) and order.index(("job", "update")) < order.index(("apply", "deployments"))
    assert _deployment_images(s, prod) == {NEW_IMAGE}
    # No snapshot is left; the history says what runs now.
    assert _sql(pg_url, None, "SELECT datname FROM pg_database WHERE datname = %s",
                (f"{prod.database}__preupgrade",)) == []
    assert not (tmp_path / "pod" / "data" / "filestore" / f"{prod.database}.preupgrade").exists()
    kinds = [(e.kind, e.status) for e in releases.events(s.ctx.store, target=str(prod.ref),
                                                         kinds=("attempt", "upgrade"), limit=5)]
    assert kinds == [("upgrade", "ok"), ("attempt", "serving"), ("attempt", "running")]  # newest first
    applied = releases.applied(s.ctx.store, str(prod.ref))
    assert applied is not None and applied.release == "r2" and applied.detail["image"] == NEW_IMAGE
    doc = yaml.safe_load(s.path.read_text())
    assert doc["tenants"][prod.ref.tenant]["environments"]["prod"]["release"] == "r2"


def test_a_failed_update_puts_the_snapshot_and_the_previous_image_back(
        estate: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, prod = estate
    s.cluster.fail_parts.add("update")  # Odoo's update fails: what it half did must not stay
    s.rec.requests.clear()
    result = _promote(s, prod, pg_url)
    [target] = result.targets
    assert target.upgrade is not None and target.upgrade.status == "rolled-back" and not result.ok
    assert "update" in (target.upgrade.error or "")
    components = [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in _posted(s)]
    assert components == ["snapshot-db", "snapshot-fs", "update", "rollback-db", "rollback-fs", "finish-db",
                          "finish-fs"]
    assert _deployment_images(s, prod) == {"odoo:18.0"}  # the previous release's, serving again
    assert _sql(pg_url, prod.database, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'"
                ) == [(1,)]
    assert _sql(pg_url, None, "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"{prod.database}\\_\\_%",)) == []
    [event] = releases.events(s.ctx.store, target=str(prod.ref), kinds=("rollback",), limit=5)
    assert event.status == "rolled-back" and event.detail["image"] == "odoo:18.0"
    # The estate says what runs again: the next apply (or Argo CD sync) keeps the previous image.
    doc = yaml.safe_load(s.path.read_text())
    assert doc["tenants"][prod.ref.tenant]["environments"]["prod"]["release"] == "r1"
    for job in _posted(s):
        assert "superuser-pw" not in json.dumps(job)


def _template(pg_url: str, source: str, into: str) -> None:
    _sql(pg_url, None, sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(into), sql.Identifier(source)))


def test_an_upgrade_killed_before_it_served_is_resumed_from_its_snapshot(
        estate: tuple[Setup, DesiredEnvironment], pg_url: str) -> None:
    s, prod = estate
    # What a run killed during the update left: its attempt recorded, its snapshot, a half-updated database.
    releases.add(s.ctx.store, target=str(prod.ref), kind="attempt", status="running", actor="test", release="r2")
    _template(pg_url, prod.database, f"{prod.database}__preupgrade")
    _sql(pg_url, prod.database, "DELETE FROM res_partner WHERE email = 'jane@customer.example'")
    result = _promote(s, prod, pg_url)
    [target] = result.targets
    assert target.upgrade is not None and target.upgrade.status == "upgraded", target.upgrade
    assert _sql(pg_url, prod.database, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'"
                ) == [(1,)]  # the snapshot was put back before upgrading again
    assert _sql(pg_url, None, "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"{prod.database}\\_\\_%",)) == []


def test_a_snapshot_no_upgrade_recorded_is_neither_used_nor_dropped(
        estate: tuple[Setup, DesiredEnvironment], pg_url: str) -> None:
    s, prod = estate
    foreign = f"{prod.database}__preupgrade"
    try:
        _template(pg_url, prod.database, foreign)
        _sql(pg_url, foreign, "DELETE FROM res_partner WHERE email = 'jane@customer.example'")  # not production
        result = _promote(s, prod, pg_url)
        [target] = result.targets
        assert target.upgrade is not None and target.upgrade.status == "rolled-back"
        assert "no upgrade" in (target.upgrade.error or "")
        assert _sql(pg_url, prod.database, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'"
                    ) == [(1,)]  # production is untouched
        assert _sql(pg_url, None, "SELECT count(*) FROM pg_database WHERE datname = %s", (foreign,)) == [(1,)]
    finally:
        _sql(pg_url, None, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(foreign)))
