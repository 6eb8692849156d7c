"""``clone`` on a kubernetes estate: a fresh backup of the source by its Job, then the restore's
Jobs into the target with the copy's identity, Odoo's own ``neutralize`` (the simulator plays the
Odoo image's command) and the platform's guarantees proven before anything of the target is
touched. Every Job runs for real here (PostgreSQL, restic against the moto S3 server, the
filestore volume mapped to a directory) on a database Odoo made: the simulator, or real Odoo when
ODOO_SOURCE and ODOO_PYTHON are set (the optional tier), which then runs the neutralize Job too."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from odooplane.actions import backup as backup_action
from odooplane.actions import clone as clone_action
from odooplane.actions import estate_file
from odooplane.actions.kubernetes import connect
from odooplane.errors import OdooplaneError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.restore import RestoreResult
from odooplane.services import neutralize, passwords
from odooplane.services.postgres import ClusterConn
from odooplane.store import evidence
from tests.integration.drivers.test_kubernetes_backup import (
    PASSWORD,
    Cluster,
    Setup,
    _estate,
    _superuser,
    moto,
    odoo_argv,
    recorder,
)
from tests.support.apiserver import api
from tests.support.s3 import MotoServer

__all__ = ["moto", "recorder"]  # fixtures

MODULES = "base,mail,payment"


def _sql(pg_url: str, database: str | None, query: sql.Composable | str, params: tuple[object, ...] = ()
         ) -> list[tuple[object, ...]]:
    url = pg_url if database is None else f"{pg_url.rsplit('/', 1)[0]}/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        return cur.fetchall() if cur.description else []


class Staging:
    """Odoo behind the staging Service, as the clone's last check asks it: the login page answers
    once its database is the neutralized copy."""

    def __init__(self, pg_url: str, database: str) -> None:
        self.pg_url, self.database = pg_url, database

    def __call__(self, namespace: str, service: str, path: str) -> tuple[int, str]:
        rows = _sql(self.pg_url, self.database, "SELECT value FROM ir_config_parameter "
                                                "WHERE key = 'database.is_neutralized'")
        return (200, "<form") if rows and str(rows[0][0]).lower() == "true" else (500, "")


@pytest.fixture
def estate(recorder: tuple[object, str], tmp_path: Path, pg_url: str, moto: MotoServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Setup, DesiredEnvironment, DesiredEnvironment]]:
    """A tenant with production (made by the Odoo simulator, a partner with an e-mail address and a
    real-looking mail server) and an empty staging database (as CloudNativePG makes it), each with
    its role; Odoo's login role a member of both; the cluster answering Jobs."""
    yield from tenant_estate(recorder, tmp_path, pg_url, moto, monkeypatch)


def tenant_estate(recorder: tuple[object, str], tmp_path: Path, pg_url: str, moto: MotoServer,
                  monkeypatch: pytest.MonkeyPatch, *, edit: Callable[[dict[str, Any], str], None] | None = None,
                  ) -> Iterator[tuple[Setup, DesiredEnvironment, DesiredEnvironment]]:
    """What the ``estate`` fixture makes; ``edit`` changes the estate document (and the tenant's name)
    first."""
    rec, url = recorder  # type: ignore[misc]
    monkeypatch.setenv("TEST_RESTIC_PW", PASSWORD)
    monkeypatch.setenv("TEST_S3_KEY", "test")
    monkeypatch.setenv("TEST_S3_SECRET", "test-secret")
    tenant = f"t{secrets.token_hex(4)}"
    path = _estate(tmp_path, moto, tenant)
    doc = yaml.safe_load(path.read_text())
    doc["tenants"][tenant]["environments"]["staging"] = {"stack": "odoo18", "cluster": "main", "stage": "staging"}
    if edit is not None:
        edit(doc, tenant)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(path)
    prod, staging = backup_action.select(ctx, [f"{tenant}/prod", f"{tenant}/staging"])
    login, login_pw = f"{tenant}_odoo", secrets.token_hex(12)
    cluster = Cluster(rec, tmp_path / "pod", pg_url)  # type: ignore[arg-type]
    cluster.login = (login, login_pw)
    try:
        _sql(pg_url, None, sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
            sql.Identifier(login), sql.Literal(login_pw)))
        for env in (prod, staging):
            _sql(pg_url, None, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(env.role)))
            _sql(pg_url, None, sql.SQL("GRANT {} TO {}").format(sql.Identifier(env.role), sql.Identifier(login)))
        conf = tmp_path / "make.conf"
        host, port = pg_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
        conf.write_text(f"[options]\ndb_host = {host}\ndb_port = {port}\ndb_user = {login}\n"
                        f"db_password = {login_pw}\ndata_dir = {tmp_path / 'pod' / 'data'}\n"
                        f"logfile = {tmp_path / 'make.log'}\nsim_password_rounds = 1000\n")
        env_vars = {k: v for k, v in os.environ.items() if k != "PGUSER"}
        made = subprocess.run(odoo_argv(["-c", str(conf), "-d", prod.database, "-i", MODULES,
                                         "--without-demo=all", "--stop-after-init"]),
                              capture_output=True, text=True, env=env_vars, timeout=900, check=False)
        assert made.returncode == 0, made.stderr + (tmp_path / "make.log").read_text()
        server = {"name": "real", "smtp_host": "smtp.example.com", "smtp_port": 587, "smtp_user": "sales",
                  "smtp_pass": "real-smtp-password", "active": True, "sequence": 1,
                  "smtp_authentication": "login", "smtp_encryption": "starttls"}
        columns = {str(r[0]) for r in _sql(pg_url, prod.database, "SELECT column_name FROM information_schema.columns "
                                                                   "WHERE table_name = 'ir_mail_server'")}
        server = {k: v for k, v in server.items() if k in columns}  # what this Odoo's table has
        _sql(pg_url, prod.database, sql.SQL("INSERT INTO ir_mail_server ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, server)), sql.SQL(", ").join(sql.Placeholder() * len(server))),
            tuple(server.values()))
        _sql(pg_url, prod.database, "INSERT INTO res_partner (name, email, active) VALUES "
                                    "('Jane Customer', 'jane@customer.example', true)")
        _sql(pg_url, None, sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(staging.database),
                                                                        sql.Identifier(staging.role)))
        rec.on_get = cluster.controller
        _superuser(rec, pg_url)
        connected = connect(path, "restore", context=None, kubeconfig=None, server=api(url))
        for obj in connected.objects:
            meta = obj["metadata"]
            if obj["kind"] == "Deployment" and meta["name"].startswith(f"{tenant}--"):
                rec.objects[f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}"] = \
                    json.loads(json.dumps(obj))
        yield Setup(rec, url, path, cluster, str(staging.ref), ctx), prod, staging
    finally:
        ctx.close()
        for env in (prod, staging):
            for database in (env.database, f"{env.database}__restore", f"{env.database}__old",
                             f"{env.database}__preupgrade", f"{env.database}__failed"):
                _sql(pg_url, None, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(database)))
        for role in (login, prod.role, staging.role):
            _sql(pg_url, None, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _clone(s: Setup, prod: DesiredEnvironment, staging: DesiredEnvironment, pg_url: str, *,
           anonymize: bool = False) -> RestoreResult:
    return clone_action.in_cluster(s.ctx, prod, staging, anonymize=anonymize, server=api(s.url), wait=180,
                                   interval=0.05, probe=Staging(pg_url, staging.database))


def test_clone_backs_the_source_up_then_puts_a_neutralized_copy_with_its_own_identity_in_place(
        estate: tuple[Setup, DesiredEnvironment, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, prod, staging = estate
    s.rec.requests.clear()
    result = _clone(s, prod, staging, pg_url)
    db = staging.database
    # The copy serves as staging: production's partner is there, its mail goes to the catcher only.
    assert _sql(pg_url, db, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'") == [(1,)]
    assert neutralize.verify(_conn(pg_url), db, smtp_host="mail-sink.odooplane.svc",
                             smtp_port=_catcher_port(s, staging)) == []
    servers = _sql(pg_url, db, "SELECT smtp_host, active FROM ir_mail_server ORDER BY id")
    assert ("smtp.example.com", True) not in servers and ("mail-sink.odooplane.svc", True) in servers
    assert _sql(pg_url, db, "SELECT count(*) FROM ir_mail_server WHERE smtp_pass = 'real-smtp-password'") == [(0,)]
    params = dict(_sql(pg_url, db, "SELECT key, value FROM ir_config_parameter"))  # type: ignore[arg-type]
    source = dict(_sql(pg_url, prod.database, "SELECT key, value FROM ir_config_parameter"))  # type: ignore[arg-type]
    assert params["database.uuid"] != source["database.uuid"] and params["database.is_neutralized"].lower() == "true"
    [(hashed,)] = _sql(pg_url, db, "SELECT password FROM res_users WHERE login = 'admin'")
    password = s.ctx.secrets.get(f"env/{staging.ref}/admin_user_password")
    assert password and passwords.verify_password(password, str(hashed))
    # Production is untouched: still its real mail server, not neutralized.
    assert _sql(pg_url, prod.database, "SELECT active FROM ir_mail_server WHERE name = 'real'") == [(True,)]
    assert "database.is_neutralized" not in source or source["database.is_neutralized"].lower() != "true"
    # The Jobs, in order: the source's backup, then the copy loaded, given its identity, Odoo's
    # neutralize (its image), the platform's, the filestore, the swap.
    posted = [r["body"] for r in s.rec.requests if r["method"] == "POST" and r["path"].endswith("/jobs")]
    assert [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in posted] == [
        "backup", "restore-db", "identity", "odoo-neutralize", "neutralize", "restore-fs", "swap-db", "swap-fs"]
    odoo = next(j for j in posted if j["metadata"]["labels"]["app.kubernetes.io/component"] == "odoo-neutralize")
    container = odoo["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "odoo:18.0" and container["command"] == [
        "odoo", "neutralize", "-c", "/run/odoo/odoo.conf", "-d", f"{db}__restore"]
    assert "readinessProbe" not in container and "ports" not in container
    assert {"odoo": ["neutralize", "-c", str(tmp_path / "pod" / "run" / "odoo.conf"), "-d", f"{db}__restore"]} \
        in s.cluster.ran  # the simulator ran Odoo's command
    for job in posted:
        assert "$pbkdf2" not in json.dumps(job) and PASSWORD not in json.dumps(job)
    # Recorded: the source's backup (kind clone-source), the clone with what it changed.
    [backup] = evidence.query(s.ctx.store, kind="backup", target=str(prod.ref), limit=5)
    assert backup.ok
    [row] = evidence.query(s.ctx.store, kind="clone", target=str(staging.ref), limit=5)
    assert row.ok and row.data["source"] == str(prod.ref) and row.data["verified"] is True
    assert row.data["neutralized"]["mail servers deactivated"] >= 1 and row.data["anonymized"] is None
    assert result.source == str(prod.ref) and result.target == str(staging.ref)
    left = _sql(pg_url, None, "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{db}\\_\\_%",))
    assert left == []


def test_a_regulated_tenants_clone_is_anonymized(
        estate: tuple[Setup, DesiredEnvironment, DesiredEnvironment], pg_url: str) -> None:
    s, prod, staging = estate
    _clone(s, prod, staging, pg_url, anonymize=True)
    db = staging.database
    assert _sql(pg_url, db, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'") == [(0,)]
    assert _sql(pg_url, prod.database, "SELECT count(*) FROM res_partner WHERE email = 'jane@customer.example'"
                ) == [(1,)]
    salt = s.ctx.secrets.get(f"env/{staging.ref}/anonymize_salt")
    tenant = staging.ref.tenant
    secret = s.rec.objects[f"/api/v1/namespaces/odoo-{tenant}/secrets/{tenant}--staging-identity"]
    assert salt and secret["stringData"]["anonymize-salt"] == salt
    [row] = evidence.query(s.ctx.store, kind="clone", target=str(staging.ref), limit=5)
    assert row.data["anonymized"]["partners"] >= 1


def test_an_unsafe_copy_is_dropped_and_the_target_keeps_what_it_had(
        estate: tuple[Setup, DesiredEnvironment, DesiredEnvironment], pg_url: str) -> None:
    s, prod, staging = estate
    _sql(pg_url, staging.database, "CREATE TABLE kept (x int)")
    s.cluster.fail_parts.add("neutralize")  # its Job fails: nothing is staged, stopped or swapped
    s.rec.requests.clear()
    with pytest.raises(OdooplaneError, match="neutralize"):
        _clone(s, prod, staging, pg_url)
    assert _sql(pg_url, staging.database, "SELECT to_regclass('kept') IS NOT NULL") == [(True,)]
    assert _sql(pg_url, None, "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (f"{staging.database}\\_\\_%",)) == []  # the copy was dropped by a Job beside the cluster
    posted = [r["body"]["metadata"]["labels"]["app.kubernetes.io/component"] for r in s.rec.requests
              if r["method"] == "POST" and r["path"].endswith("/jobs")]
    assert posted[-2:] == ["neutralize", "discard-db"] and "restore-fs" not in posted
    assert not [r for r in s.rec.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]]
    assert evidence.query(s.ctx.store, kind="clone", target=str(staging.ref), limit=5) == []
    # Into production, or across tenants: refused before anything is sent.
    s.rec.requests.clear()
    with pytest.raises(UsageError):
        clone_action.in_cluster(s.ctx, staging, prod, anonymize=False, server=api(s.url))
    assert [r for r in s.rec.requests if r["method"] != "GET"] == []


def _conn(pg_url: str) -> ClusterConn:
    info = psycopg.conninfo.conninfo_to_dict(pg_url)
    return ClusterConn(name="test", host=str(info.get("host") or "127.0.0.1"), port=int(str(info.get("port") or 5432)),
                       user=str(info.get("user") or "postgres"), password=None)


def _catcher_port(s: Setup, env: DesiredEnvironment) -> int:
    connected = connect(s.path, "restore", context=None, kubeconfig=None, server=api(s.url))
    [conf] = [o for o in connected.objects if o["kind"] == "ConfigMap"
              and o["metadata"]["name"] == f"{env.ref.tenant}--{env.ref.env}-conf"]
    return int(next(line.split("=")[1] for line in conf["data"]["odoo.conf"].splitlines()
                    if line.startswith("smtp_port")))
