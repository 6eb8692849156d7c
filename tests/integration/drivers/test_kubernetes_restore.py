"""``restore`` in place on a kubernetes estate: the four Jobs (copy loaded and checked, filestore
staged and checked, both swapped) run for real as the cluster would run them (PostgreSQL, the
filestore volume mapped to a directory, restic from the moto S3 server), the Deployments scaled
down and back through the recording API server, and a restore killed half way converging when run
again."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from odooplane.actions import backup as backup_action
from odooplane.actions import estate_file, kubernetes_backup, kubernetes_restore, kubernetes_verify
from odooplane.actions import restore as restore_action
from odooplane.actions.kubernetes import connect
from odooplane.errors import OdooplaneError, UsageError
from odooplane.estate.models import Stateless
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.desired import base_url
from odooplane.operations.restore import RestoreResult
from odooplane.services import passwords
from odooplane.store import evidence
from tests.integration.drivers.test_kubernetes_backup import (
    PASSWORD,
    Setup,
    _superuser,
    moto,
    recorder,
    setup,
    tenant,
)
from tests.support.apiserver import api

__all__ = ["moto", "recorder", "setup", "tenant"]  # fixtures

CONTENT = b"an invoice"
SHA = hashlib.sha1(CONTENT).hexdigest()


@pytest.fixture
def ready(setup: Setup, pg_url: str) -> Iterator[tuple[Setup, DesiredEnvironment]]:
    """A backup of the environment made by its Job; the cluster's Deployments of it and its role
    (which owns its database on the cluster) present."""
    rec, ctx = setup.rec, setup.ctx
    rec.on_get = setup.cluster.controller
    _superuser(rec, pg_url)
    [env] = backup_action.select(ctx, [setup.target])
    connected = connect(setup.path, "restore", context=None, kubeconfig=None, server=api(setup.url))
    for obj in connected.objects:
        meta = obj["metadata"]
        if obj["kind"] == "Deployment" and meta["name"].startswith(env.ref.slug.replace("__", "--")):
            rec.objects[f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}"] = \
                json.loads(json.dumps(obj))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(env.role)))
    try:
        made = kubernetes_backup.run_in(ctx, [env], server=api(setup.url), interval=0.05, wait=120,
                                        now=dt.datetime(2026, 12, 6, 13, 0, 5, tzinfo=dt.UTC))
        assert made.failures == []
        yield setup, env
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for database in (env.database, f"{env.database}__restore", f"{env.database}__old"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(env.role)))


def _change_live(pg_url: str, env: DesiredEnvironment, filestore: Path) -> None:
    """What happened after the backup: rows added, an attachment file lost, another one written."""
    base = pg_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{env.database}", autocommit=True) as conn:
        conn.execute("INSERT INTO res_partner (name) VALUES ('late'), ('later'), ('latest')")
    (filestore / SHA[:2] / SHA).unlink()
    (filestore / "ff").mkdir()
    (filestore / "ff" / "ff00").write_bytes(b"written after the backup")


class Odoo:
    """Odoo behind its Service, as the restore's last check asks it: the login page answers once
    the database it names holds the restored rows."""

    def __init__(self, pg_url: str, database: str) -> None:
        self.pg_url, self.database = pg_url, database
        self.asked: list[tuple[str, str, str]] = []

    def __call__(self, namespace: str, service: str, path: str) -> tuple[int, str]:
        self.asked.append((namespace, service, path))
        base = self.pg_url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/{self.database}", autocommit=True) as conn:
            count = conn.execute("SELECT count(*) FROM res_partner").fetchone()
        return (200, "<form") if count == (7,) else (500, "")


def _restore(s: Setup, env: DesiredEnvironment, pg_url: str) -> RestoreResult:
    odoo = Odoo(pg_url, env.database)
    result = restore_action.in_cluster(s.ctx, env, source=env, repository=None, snapshot=None, at=None, pitr=False,
                                       unconfirmed=False, server=api(s.url), wait=120, interval=0.05, probe=odoo)
    assert odoo.asked[-1] == (f"odoo-{env.ref.tenant}", f"{env.ref.slug.replace('__', '--')}-http",
                              f"/web/login?db={env.database}")
    return result


def _assert_restored(pg_url: str, env: DesiredEnvironment, data: Path, *, loaders: list[str] | None = None,
                     beside: tuple[str, ...] = ()) -> None:
    base = pg_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{env.database}", autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM res_partner").fetchone() == (7,)
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {env.role}  # the copy is the environment's role's, not the loader's
        assert conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
                            ).fetchone() == (env.role,)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{env.database}\\_\\_%",))
        assert left.fetchall() == []
        assert conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",  # this tenant's loaders only
                            (f"rst-{env.ref.tenant}%",)).fetchall() == [
            (name,) for name in loaders or []]
    filestore = data / "filestore"
    assert (filestore / env.database / SHA[:2] / SHA).read_bytes() == CONTENT
    assert not (filestore / env.database / "ff").exists()
    assert sorted(p.name for p in filestore.iterdir()) == sorted([env.database, *beside])  # nothing staged left
    assert not (data / ".odooplane-restore").exists()


def test_restore_in_place_loads_checks_then_swaps_while_the_environment_is_stopped(
        ready: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, env = ready
    data = tmp_path / "pod" / "data"
    _change_live(pg_url, env, data / "filestore" / env.database)
    s.rec.requests.clear()
    result = _restore(s, env, pg_url)
    assert result.in_place and result.checks["row_counts"]["res_partner"] == 7 and result.checks["attachments"] == 1
    _assert_restored(pg_url, env, data)
    # Four Jobs: the database steps beside the cluster, the filestore steps beside the volume.
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"]: j for p, j in s.rec.objects.items()
            if "/jobs/" in p and "-backup-" not in p}
    assert {k: j["metadata"]["namespace"] for k, j in jobs.items()} == {
        "restore-db": "odooplane", "swap-db": "odooplane",
        "restore-fs": f"odoo-{env.ref.tenant}", "swap-fs": f"odoo-{env.ref.tenant}"}
    for job in jobs.values():
        text = json.dumps(job)
        assert PASSWORD not in text and "superuser-pw-51c2" not in text
    fs_mounts = {m["mountPath"]: m for m in jobs["swap-fs"]["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"]}
    assert fs_mounts["/var/lib/odoo"]["readOnly"] is False
    # Stopped before the swap, started after it, in that order.
    steps = []  # what changed in the cluster, in order: Jobs created, Deployments scaled
    for r in s.rec.requests:
        if r["method"] == "POST" and r["path"].endswith("/jobs"):
            steps.append(r["body"]["metadata"]["labels"]["app.kubernetes.io/component"])
        elif r["method"] == "PATCH" and "/deployments/" in r["path"]:
            steps.append("stop" if r["body"]["spec"]["replicas"] == 0 else "start")
    scaled = len([x for x in steps if x == "stop"])
    assert scaled >= 2  # web and cron (at least)
    assert steps == ["restore-db", "restore-fs", *["stop"] * scaled, "swap-db", "swap-fs", *["start"] * scaled]
    [row] = evidence.query(s.ctx.store, kind="restore", target=s.target, limit=5)
    assert row.ok and row.data["in_place"] and row.data["driver"] == "kubernetes"


def test_a_restore_stopped_after_the_database_swap_converges_when_run_again(
        ready: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, env = ready
    data = tmp_path / "pod" / "data"
    _change_live(pg_url, env, data / "filestore" / env.database)
    s.cluster.fail_parts.add("swap-fs")  # its Job fails: the database is swapped, the filestore only staged
    with pytest.raises(OdooplaneError, match="swap-fs"):
        _restore(s, env, pg_url)
    assert (data / "filestore" / f"{env.database}.restore").is_dir()
    deployments = [o for p, o in s.rec.objects.items() if "/deployments/" in p]
    assert deployments and all(d["spec"]["replicas"] == 0 for d in deployments)  # not served half restored
    assert [r.ok for r in evidence.query(s.ctx.store, kind="restore", target=s.target, limit=5)] == []
    _restore(s, env, pg_url)
    _assert_restored(pg_url, env, data)
    assert all(d["spec"]["replicas"] > 0 for d in deployments)


def test_what_is_not_done_in_a_cluster_is_refused_before_anything_is_sent(
        ready: tuple[Setup, DesiredEnvironment]) -> None:
    s, env = ready
    s.rec.requests.clear()
    with pytest.raises(UsageError, match="pitr restore-cluster"):
        restore_action.in_cluster(s.ctx, env, source=env, repository=None, snapshot=None, at=None, pitr=True,
                                  unconfirmed=False, server=api(s.url))
    [other] = [e for e in s.ctx.valid.environments if e.ref.tenant != env.ref.tenant][:1]
    with pytest.raises(UsageError, match="stays within one tenant"):
        restore_action.in_cluster(s.ctx, env, source=other, repository=None, snapshot=None, at=None, pitr=False,
                                  unconfirmed=False, server=api(s.url))
    bucket = replace(env, stateless=Stateless(attachments="attachments"))  # its files in a bucket
    with pytest.raises(OdooplaneError, match="attachments are in a bucket"):
        restore_action.in_cluster(s.ctx, bucket, source=bucket, repository=None, snapshot=None, at=None,
                                  pitr=False, unconfirmed=False, server=api(s.url))
    assert [r for r in s.rec.requests if r["method"] != "GET"] == []
    with pytest.raises(UsageError, match="part must be one of"):
        kubernetes_restore.stage({"part": "drop-everything"})


def test_what_a_killed_restore_left_in_the_cluster_goes_and_other_environments_keep_theirs(
        ready: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, env = ready
    prefix = f"rst-{kubernetes_verify.job_slug(env)}-"
    marker = f"odooplane:{s.ctx.estate_id}:loader/{prefix}"
    mine, other = f"{prefix}0badcafe", f"{prefix}0badcafe-eu"  # the second: not a name a restore of it makes
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for role in (mine, other):
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(role), sql.Literal(marker + role.removeprefix(prefix))))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(f"{env.database}__restore"),
                                                                   sql.Identifier(mine)))
    try:
        _restore(s, env, pg_url)
        _assert_restored(pg_url, env, tmp_path / "pod" / "data", loaders=[other])  # its leftovers went
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(f"{env.database}__restore")))
            for role in (mine, other):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def staging(ready: tuple[Setup, DesiredEnvironment], pg_url: str) -> Iterator[tuple[Setup, DesiredEnvironment]]:
    """A staging environment of the same tenant (its empty database as CloudNativePG makes it, its
    role, its Deployments), the estate re-read with it."""
    s, prod = ready
    doc = yaml.safe_load(s.path.read_text())
    doc["tenants"][prod.ref.tenant]["environments"]["staging"] = {"stack": "odoo18", "cluster": "main",
                                                                  "stage": "staging"}
    s.path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(s.path)
    [env] = backup_action.select(ctx, [f"{prod.ref.tenant}/staging"])
    connected = connect(s.path, "restore", context=None, kubeconfig=None, server=api(s.url))
    for obj in connected.objects:
        meta = obj["metadata"]
        if obj["kind"] == "Deployment" and meta["name"].startswith(env.ref.slug.replace("__", "--")):
            s.rec.objects[f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}"] = \
                json.loads(json.dumps(obj))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(env.role)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(env.database),
                                                                   sql.Identifier(env.role)))
    try:
        yield replace(s, ctx=ctx, target=str(env.ref)), env
    finally:
        ctx.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for database in (env.database, f"{env.database}__restore", f"{env.database}__old"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(env.role)))


def test_restore_from_another_environment_gives_the_copy_its_own_identity_before_the_swap(
        ready: tuple[Setup, DesiredEnvironment], staging: tuple[Setup, DesiredEnvironment], pg_url: str,
        tmp_path: Path) -> None:
    _, prod = ready
    s, env = staging
    data = tmp_path / "pod" / "data"
    s.rec.requests.clear()
    odoo = Odoo(pg_url, env.database)
    result = restore_action.in_cluster(s.ctx, env, source=prod, repository=None, snapshot=None, at=None,
                                       pitr=False, unconfirmed=False, server=api(s.url), wait=120, interval=0.05,
                                       probe=odoo)
    assert result.source == str(prod.ref) and result.target == str(env.ref) and result.checks["identity"] == "reset"
    _assert_restored(pg_url, env, data, beside=(prod.database,))
    base = pg_url.rsplit("/", 1)[0]
    password = s.ctx.secrets.get(f"env/{env.ref}/admin_user_password")
    assert password
    with psycopg.connect(f"{base}/{env.database}", autocommit=True) as conn:
        params = dict(conn.execute("SELECT key, value FROM ir_config_parameter").fetchall())
        [(hashed,)] = conn.execute("SELECT password FROM res_users WHERE login = 'admin'").fetchall()
    assert params["database.uuid"] != "prod-uuid" and params["database.secret"] != "prod-secret"
    assert params["web.base.url"] == base_url(s.ctx, env) and params["web.base.url.freeze"] == "True"
    assert passwords.verify_password(password, hashed)  # the staging admin password, not production's
    with psycopg.connect(f"{base}/{prod.database}", autocommit=True) as conn:  # the source is untouched
        assert conn.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'").fetchone() == (
            "prod-uuid",)
    # The hash reached the cluster as a Secret's file, never in a Job.
    namespace = f"odoo-{env.ref.tenant}"
    secret = s.rec.objects[f"/api/v1/namespaces/{namespace}/secrets/{env.ref.tenant}--staging-identity"]
    assert passwords.verify_password(password, secret["stringData"]["admin-password-hash"])
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"]: j for p, j in s.rec.objects.items()
            if "/jobs/" in p and "-backup-" not in p}
    identity = jobs["identity"]
    assert identity["metadata"]["namespace"] == namespace
    assert json.loads(identity["spec"]["template"]["spec"]["containers"][0]["command"][-1])["database"] == \
        f"{env.database}__restore"  # the copy, before it is put in place
    for job in jobs.values():
        assert "$pbkdf2" not in json.dumps(job) and password not in json.dumps(job)
    steps = [r["body"]["metadata"]["labels"]["app.kubernetes.io/component"] for r in s.rec.requests
             if r["method"] == "POST" and r["path"].endswith("/jobs")]
    assert steps == ["restore-db", "identity", "restore-fs", "swap-db", "swap-fs"]
    [row] = evidence.query(s.ctx.store, kind="restore", target=str(env.ref), limit=5)
    assert row.ok and row.data["source"] == str(prod.ref) and row.data["identity"] == "reset"


def test_the_identity_step_of_an_init_job_connects_where_odoos_configuration_says(
        tenant: str, pg_url: str, tmp_path: Path) -> None:
    pg = psycopg.conninfo.conninfo_to_dict(pg_url)
    conf = tmp_path / "odoo.conf"
    conf.write_text(f"[options]\ndb_host = {pg.get('host') or '127.0.0.1'}\ndb_port = {pg.get('port') or 5432}\n"
                    f"db_user = {pg.get('user') or 'postgres'}\ndb_password = not-checked-by-trust\n")
    identity = tmp_path / "identity"
    identity.mkdir()
    task = {"part": "identity", "database": f"{tenant}_prod", "base_url": "https://new.example", "conf": str(conf),
            "identity": str(identity)}
    (identity / "admin-password-hash").write_text("admin")  # not a hash: refused, nothing changed
    with pytest.raises(OdooplaneError, match="no pbkdf2 password hash"):
        kubernetes_restore.stage(task)
    hashed = passwords.hash_password("s3cret-admin", rounds=1000)
    (identity / "admin-password-hash").write_text(hashed + "\n")
    assert kubernetes_restore.stage(task) == {"ok": True, "database": f"{tenant}_prod"}
    base = pg_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{tenant}_prod", autocommit=True) as conn:
        params = dict(conn.execute("SELECT key, value FROM ir_config_parameter").fetchall())
        assert conn.execute("SELECT password FROM res_users WHERE login = 'admin'").fetchone() == (hashed,)
    assert params["web.base.url"] == "https://new.example" and params["database.uuid"] != "prod-uuid"


class PooledOdoo(Odoo):
    """A pool's Odoo: it answers only for the database the edge's trusted header names."""

    def __init__(self, pg_url: str, database: str) -> None:
        super().__init__(pg_url, database)
        self.headers: list[dict[str, str]] = []

    def __call__(self, namespace: str, service: str, path: str, /,  # type: ignore[override]
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
        self.headers.append(dict(headers or {}))
        if (headers or {}).get("X-Odooplane-Database") != self.database:
            return 404, ""  # no header, no database
        return super().__call__(namespace, service, path)


def test_a_pooled_environment_is_restored_without_stopping_its_pool(
        ready: tuple[Setup, DesiredEnvironment], pg_url: str, tmp_path: Path) -> None:
    s, dedicated = ready
    pool = f"p{secrets.token_hex(3)}"
    doc = yaml.safe_load(s.path.read_text())
    doc["pools"][pool] = {"stack": "odoo18", "cluster": "main", "processes": 1, "workers": 0}
    doc["tenants"][dedicated.ref.tenant]["environments"]["prod"] = {"placement": {"shared": pool}}
    s.path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(s.path)
    [env] = backup_action.select(ctx, [str(dedicated.ref)])
    assert env.pool == pool and env.role != dedicated.role
    connected = connect(s.path, "restore", context=None, kubeconfig=None, server=api(s.url))
    for obj in connected.objects:
        meta = obj["metadata"]
        if obj["kind"] == "Deployment" and meta["name"].startswith(f"pool--{pool}"):
            s.rec.objects[f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}"] = \
                json.loads(json.dumps(obj))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(env.role)))
    try:
        data = tmp_path / "pod" / "data"
        _change_live(pg_url, env, data / "filestore" / env.database)
        s.rec.requests.clear()
        odoo = PooledOdoo(pg_url, env.database)
        result = restore_action.in_cluster(ctx, env, source=env, repository=None, snapshot=None, at=None,
                                           pitr=False, unconfirmed=False, server=api(s.url), wait=120,
                                           interval=0.05, probe=odoo)
        assert result.checks["row_counts"]["res_partner"] == 7
        _assert_restored(pg_url, env, data)  # the copy is the pool's role's now
        # The pool was never stopped; the database was asked for through it, with the edge's header.
        assert not [r for r in s.rec.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]]
        assert odoo.headers[-1] == {"X-Odooplane-Database": env.database}
        assert odoo.asked[-1][:2] == (f"odoo-pool-{pool}", f"pool--{pool}-http")
        jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"]: j for p, j in s.rec.objects.items()
                if "/jobs/" in p and "-backup-" not in p}
        assert jobs["restore-fs"]["metadata"]["namespace"] == f"odoo-pool-{pool}"
        posted = [r["body"]["metadata"]["labels"]["app.kubernetes.io/component"] for r in s.rec.requests
                  if r["method"] == "POST" and r["path"].endswith("/jobs")]
        assert posted == ["restore-db", "restore-fs", "swap-db", "swap-fs", "open-db"]  # closed until its files are in
        assert json.loads(jobs["swap-db"]["spec"]["template"]["spec"]["containers"][0]["command"][-1])["keep_closed"]
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert conn.execute("SELECT datallowconn FROM pg_database WHERE datname = %s",
                                (env.database,)).fetchone() == (True,)
        assert jobs["restore-db"]["metadata"]["namespace"] == "odooplane"
    finally:
        ctx.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(env.database)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(env.role)))
