"""``backup run`` on a kubernetes estate: the Job and the Secrets the control plane sends (to the
recording server of tests/support/apiserver.py), the Job's command run for real as the cluster would
run it (``odooplane kubernetes backup-stage``: PostgreSQL, a filestore, restic into an S3 repository
on the moto server), then this host's confirmation, evidence, ``backup list`` and a restore of what
the Job wrote. Only the pod's paths and the database's address are mapped to this machine's."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
import yaml
from psycopg import sql

from odooplane.actions import backup as backup_action
from odooplane.actions import estate_file, kubernetes_verify
from odooplane.actions import kubernetes_backup as action
from odooplane.actions import schedule as schedule_action
from odooplane.actions import verify as verify_action
from odooplane.actions.kubernetes import connect
from odooplane.operations import backups
from odooplane.operations import verify as verifying
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services import restic
from odooplane.store import evidence
from tests.support.apiserver import REFERENCE, Recorder, api, recorder
from tests.support.s3 import MotoServer, start_moto

__all__ = ["recorder"]  # fixtures

PASSWORD = "restic-pw-7f3a9c"


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[MotoServer]:
    server = start_moto(tmp_path / "moto.log")
    try:
        server.create_bucket("backups")
        yield server
    finally:
        server.stop()


@pytest.fixture
def tenant(pg_url: str, tmp_path: Path) -> Iterator[str]:
    """A tenant with a uniquely named database holding Odoo's tables that backups read, and a filestore."""
    name = f"t{uuid.uuid4().hex[:8]}"
    database = f"{name}_prod"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    base = pg_url.rsplit("/", 1)[0]
    try:
        with psycopg.connect(f"{base}/{database}", autocommit=True) as conn:
            conn.execute("CREATE TABLE ir_module_module (name text, latest_version text, state text)")
            conn.execute("INSERT INTO ir_module_module VALUES ('base', '18.0.1.3', 'installed'), "
                         "('sale', '18.0.1.2', 'installed'), ('crm', '18.0.1.0', 'uninstalled')")
            conn.execute("CREATE TABLE ir_attachment (id serial, store_fname text, checksum text, file_size int)")
            content = b"an invoice"
            sha = hashlib.sha1(content).hexdigest()
            conn.execute("INSERT INTO ir_attachment (store_fname, checksum, file_size) VALUES (%s, %s, %s)",
                         (f"{sha[:2]}/{sha}", sha, len(content)))
            conn.execute("CREATE TABLE res_partner (id serial, name text)")
            conn.execute("INSERT INTO res_partner (name) SELECT 'p' || g FROM generate_series(1, 7) g")
            conn.execute("CREATE TABLE ir_config_parameter (id serial, key text UNIQUE, value text, "
                         "create_date timestamp, write_date timestamp)")
            conn.execute("INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', 'prod-uuid'), "
                         "('database.secret', 'prod-secret'), ('web.base.url', 'https://prod.example')")
            conn.execute("CREATE TABLE res_users (id serial, login text, password text)")
            conn.execute("INSERT INTO res_users (login, password) VALUES ('admin', 'prod-admin-hash')")
        store = tmp_path / "pod" / "data" / "filestore" / database / sha[:2]
        store.mkdir(parents=True)
        (store / sha).write_bytes(content)
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def _estate(tmp_path: Path, moto: MotoServer, tenant: str) -> Path:
    doc = yaml.safe_load(REFERENCE.read_text())
    doc["backups"] = {
        "repositories": {"offsite": {"url": f"s3:{moto.endpoint}/backups/odoo", "password": "env:TEST_RESTIC_PW",
                                     "s3_access_key_id": "env:TEST_S3_KEY",
                                     "s3_secret_access_key": "env:TEST_S3_SECRET",
                                     "offsite": True}},
        "policies": {"standard": {"targets": ["offsite"], "schedule": None}}}
    doc["tenants"][tenant] = {"environments": {"prod": {"stack": "odoo18", "cluster": "main"}}}
    path = tmp_path / "estate" / "estate.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def odoo_argv(args: list[str]) -> list[str]:
    """Odoo's own command line (``odoo <args>``) as this machine runs it: real Odoo when
    ODOO_SOURCE and ODOO_PYTHON name a tree and its interpreter, the simulator otherwise."""
    source, python = os.environ.get("ODOO_SOURCE"), os.environ.get("ODOO_PYTHON")
    if source and python:
        return [python, str(Path(source) / "odoo-bin"), *args]
    return [sys.executable, "-m", "odooplane.sim", *args]


class Cluster:
    """What the cluster does with a backup Job: its pod runs the Job's command (here, on this
    machine, with the pod's paths mapped to a directory and its Secrets' files written there)."""

    def __init__(self, rec: Recorder, root: Path, pg_url: str) -> None:
        self.rec, self.root, self.pg_url = rec, root, pg_url
        self.ran: list[dict[str, Any]] = []
        self.fail_with: str | None = None
        self.fail_parts: set[str] = set()  # the components whose next Job fails without running
        self.login: tuple[str, str] | None = None  # Odoo's role in the joined odoo.conf (else the URL's user)
        self.conf_extra: dict[str, str] = {}  # more lines of the joined odoo.conf (a stateless one's bucket)

    def secret_files(self, namespace: str, name: str, into: Path) -> None:
        secret = self.rec.objects[f"/api/v1/namespaces/{namespace}/secrets/{name}"]
        into.mkdir(parents=True, exist_ok=True)
        for key, value in secret.get("stringData", {}).items():
            (into / key).write_text(value)
        for key, value in secret.get("data", {}).items():
            (into / key).write_bytes(base64.b64decode(value))

    def run(self, job: dict[str, Any]) -> tuple[list[str], bool]:
        """Run the Job's container here: its lines, and whether it succeeded."""
        namespace = job["metadata"]["namespace"]
        pod = job["spec"]["template"]["spec"]
        command = pod["containers"][0]["command"]
        pg = psycopg.conninfo.conninfo_to_dict(self.pg_url)
        user, password = self.login or (str(pg.get("user") or "postgres"), "not-checked-by-trust")
        conf = self.root / "run" / "odoo.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"[options]\ndb_host = {pg.get('host') or '127.0.0.1'}\ndb_port = {pg.get('port') or 5432}\n"
                        f"db_user = {user}\ndb_password = {password}\ndata_dir = {self.root / 'data'}\n"
                        "sim_password_rounds = 1000\n" + "".join(f"{k} = {v}\n" for k, v in self.conf_extra.items()))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TEST_")) and k != "PGUSER"}
        if pod["containers"][0]["name"] == "odoo":  # Odoo's own command (real Odoo, or the simulator)
            argv = [str(conf) if arg == "/run/odoo/odoo.conf" else arg for arg in command[1:]]
            self.ran.append({"odoo": argv})
            odoo = subprocess.run(odoo_argv(argv), capture_output=True, text=True, env=env, timeout=600,
                                  check=False)
            return (odoo.stdout + odoo.stderr).splitlines(), odoo.returncode == 0
        task = json.loads(command[-1])
        self.ran.append(task)
        local = {**task, "host": str(pg.get("host") or "127.0.0.1"), "port": int(pg.get("port") or 5432)}
        for key, value in (("conf", conf), ("stage", self.root / "stage"), ("work", self.root / "work"),
                           ("data", self.root / "data")):
            if key in task:
                local[key] = str(value)
        if "filestore" in task:
            local["filestore"] = task["filestore"].replace("/var/lib/odoo", str(self.root / "data"))
        text = json.dumps(local)
        for mount in pod["containers"][0]["volumeMounts"]:  # each Secret's files, where its mount says
            volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
            if "secret" in volume:
                into = self.root / "mounts" / mount["mountPath"].lstrip("/")
                self.secret_files(namespace, volume["secret"]["secretName"], into)
                text = text.replace(json.dumps(mount["mountPath"]), json.dumps(str(into)))
        local = json.loads(text)
        if self.fail_with:
            local["database"] = self.fail_with
        done = subprocess.run([sys.executable, "-m", "odooplane", *command[3:-1], json.dumps(local)],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        lines = done.stdout.splitlines()
        return lines, bool(lines) and bool(json.loads(lines[-1]).get("ok"))

    def controller(self, path: str, obj: dict[str, Any]) -> None:
        if "/deployments/" in path:  # the pods follow the replicas at once, and are ready
            replicas = int(obj["spec"].get("replicas", 1))
            obj["status"] = {"replicas": replicas, "readyReplicas": replicas, "updatedReplicas": replicas}
            return
        if "/jobs/" not in path or obj.get("status"):
            return
        component = obj["metadata"]["labels"].get("app.kubernetes.io/component")
        if component in self.fail_parts:
            self.fail_parts.discard(component)
            obj["status"] = {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                          "reason": "DeadlineExceeded"}]}
            return
        lines, ok = self.run(obj)
        name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
        pod = f"{name}-x1"
        container = obj["spec"]["template"]["spec"]["containers"][0]["name"]
        self.rec.add_pod(namespace, pod, {"job-name": name}, containers=(container,))
        for line in lines:
            self.rec.log(namespace, pod, container, dt.datetime.now(dt.UTC), line)
        obj["status"] = {"succeeded": 1} if ok else {
            "failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}


@dataclass
class Setup:
    rec: Recorder
    url: str
    path: Path
    cluster: Cluster
    target: str
    ctx: Context


@pytest.fixture
def setup(recorder: tuple[Recorder, str], tmp_path: Path, pg_url: str, moto: MotoServer, tenant: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    """The estate (its secrets in this process's environment), the cluster playing the Job
    controller (not yet answering: a test sets ``rec.on_get``), an open context."""
    rec, url = recorder
    monkeypatch.setenv("TEST_RESTIC_PW", PASSWORD)
    monkeypatch.setenv("TEST_S3_KEY", "test")
    monkeypatch.setenv("TEST_S3_SECRET", "test-secret")
    path = _estate(tmp_path, moto, tenant)
    ctx = estate_file.context(path)
    try:
        yield Setup(rec, url, path, Cluster(rec, tmp_path / "pod", pg_url), f"{tenant}/prod", ctx)
    finally:
        ctx.close()


def test_backup_run_makes_the_backup_in_a_job_and_this_host_confirms_it(
        setup: Setup, tmp_path: Path, moto: MotoServer, tenant: str) -> None:
    rec, url, path, cluster, target, ctx = setup.rec, setup.url, setup.path, setup.cluster, setup.target, setup.ctx
    rec.on_get = cluster.controller
    envs = backup_action.select(ctx, [target])
    now = dt.datetime(2026, 12, 6, 13, 0, 5, tzinfo=dt.UTC)
    result = action.run_in(ctx, envs, server=api(url), interval=0.05, wait=120, now=now)
    assert result.failures == [], result.failures
    [made] = result.backups
    snapshot = made.snapshots["offsite"]
    # The control plane sent: the repository's Secret (password and S3 keys, in a Secret only) and the Job.
    namespace = f"odoo-{tenant}"
    secret = rec.objects[f"/api/v1/namespaces/{namespace}/secrets/odooplane-restic-offsite"]
    assert secret["stringData"]["password"] == PASSWORD
    assert "aws_secret_access_key = test-secret" in secret["stringData"]["aws-credentials"]
    [job_path] = [p for p in rec.objects if "/jobs/" in p]
    job = rec.objects[job_path]
    assert job_path.endswith(f"/namespaces/{namespace}/jobs/{tenant}--prod-backup-20261206130005")
    text = json.dumps(job)
    assert PASSWORD not in text and "test-secret" not in text  # no secret in the Job
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "env" not in container and container["image"] == "odooplane/control:latest"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/lib/odoo"]["readOnly"] is True  # the filestore is read, never written
    assert mounts["/etc/restic/offsite"]["readOnly"] is True
    assert {v["name"]: v for v in pod["volumes"]}["data"]["persistentVolumeClaim"]["claimName"] == \
        f"{tenant}--prod-data"
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    [task] = cluster.ran
    assert task["host"] == "main-rw.odooplane.svc" and task["database"] == f"{tenant}_prod"
    # This host confirmed it (listed, manifest read back) and recorded it.
    [row] = evidence.query(ctx.store, kind="backup", target=target, limit=10)
    assert row.ok and row.data["snapshot"] == snapshot and row.data["manifest_sha256"] == made.manifest_sha256
    listed = backup_action.list_backups(path, [target])
    assert [(b.repository, b.snapshot) for b in listed] == [("offsite", snapshot)]
    # Retention and repository checks need only the repository: they run on a kubernetes estate too.
    pruned = backup_action.prune(path, [target], dry_run=True)
    assert pruned.decisions[f"{target} offsite"].keep and not pruned.decisions[f"{target} offsite"].forget
    assert [(c.repository, c.ok) for c in backup_action.check(path, repos=["offsite"])] == [("offsite", True)]
    # What the Job wrote restores: every artifact the manifest names, with its SHA-256.
    repo = restic.Repository("offsite", f"s3:{moto.endpoint}/backups/odoo", PASSWORD,
                             {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret"})
    restic.restore(repo, snapshot, tmp_path / "restored")
    stage = tmp_path / "restored" / str(tmp_path / "pod" / "stage").lstrip("/")
    manifest = json.loads((stage / "manifest.json").read_text())
    assert manifest["target"] == target and manifest["modules"] == {"base": "18.0.1.3", "sale": "18.0.1.2"}
    assert manifest["row_counts"]["res_partner"] == 7 and manifest["attachments"]["count"] == 1
    assert backups.artifact_hashes(stage) == manifest["artifacts"]
    assert any(k.startswith("filestore/") for k in manifest["artifacts"])
    assert any(k.startswith("dump/") for k in manifest["artifacts"])


def test_a_stateless_environments_attachments_are_backed_up_from_its_bucket(
        setup: Setup, tmp_path: Path, moto: MotoServer, tenant: str) -> None:
    import boto3

    doc = yaml.safe_load(setup.path.read_text())
    doc["object_storage"] = {"files": {"endpoint_url": moto.endpoint, "bucket": "attachments",
                                       "access_key_id": "env:TEST_S3_KEY", "secret_access_key": "env:TEST_S3_SECRET"}}
    doc["tenants"][tenant]["environments"]["prod"]["stateless"] = {"attachments": "files"}
    setup.path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(setup.path)
    moto.create_bucket("attachments")
    content = b"an invoice"
    sha = hashlib.sha1(content).hexdigest()
    prefix = f"emea/{tenant}__prod/"
    boto3.client("s3", endpoint_url=moto.endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                 region_name="us-east-1").put_object(Bucket="attachments", Key=f"{prefix}{tenant}_prod/{sha[:2]}/{sha}",
                                                     Body=content)
    shutil.rmtree(tmp_path / "pod" / "data" / "filestore")  # a stateless pod keeps no file
    setup.cluster.conf_extra = {  # what its Secret adds to the joined odoo.conf
        "odooplane_s3_endpoint": moto.endpoint, "odooplane_s3_bucket": "attachments",
        "odooplane_s3_prefix": prefix, "odooplane_s3_access_key": "test", "odooplane_s3_secret_key": "test"}
    setup.rec.on_get = setup.cluster.controller
    try:
        envs = backup_action.select(ctx, [setup.target])
        result = action.run_in(ctx, envs, server=api(setup.url), interval=0.05, wait=120,
                               now=dt.datetime(2026, 12, 6, 13, 0, 5, tzinfo=dt.UTC))
        assert result.failures == [], result.failures
        [made] = result.backups
        job = next(o for p, o in setup.rec.objects.items() if "/jobs/" in p)
        assert "env" not in job["spec"]["template"]["spec"]["containers"][0]  # the bucket's keys: the Secret's
        repo = restic.Repository("offsite", f"s3:{moto.endpoint}/backups/odoo", PASSWORD,
                                 {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret"})
        stage = str(tmp_path / "pod" / "stage")
        assert restic.dump(repo, made.snapshots["offsite"], f"{stage}/filestore/{sha[:2]}/{sha}") == content
        manifest = json.loads(restic.dump(repo, made.snapshots["offsite"], f"{stage}/manifest.json"))
        assert f"filestore/{sha[:2]}/{sha}" in manifest["artifacts"]
    finally:
        ctx.close()


def test_a_failed_job_records_a_failure_and_no_backup(setup: Setup, tenant: str) -> None:
    setup.cluster.fail_with = f"{tenant}_gone"  # the database the Job dumps does not exist
    setup.rec.on_get = setup.cluster.controller
    ctx = setup.ctx
    result = action.run_in(ctx, backup_action.select(ctx, [setup.target]), server=api(setup.url), interval=0.05,
                           wait=120)
    [failure] = result.failures
    assert "failed" in failure and f"{tenant}_gone" in failure and PASSWORD not in failure
    rows = evidence.query(ctx.store, kind="backup", target=setup.target, limit=10)
    assert [r.ok for r in rows] == [False]
    assert backup_action.list_backups(setup.path, [setup.target]) == []


def test_a_repository_on_this_host_is_refused_before_anything_is_sent(
        recorder: tuple[Recorder, str], tmp_path: Path, moto: MotoServer, tenant: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rec, url = recorder
    monkeypatch.setenv("TEST_RESTIC_PW", PASSWORD)
    doc = yaml.safe_load(_estate(tmp_path, moto, tenant).read_text())
    doc["backups"]["repositories"]["offsite"] = {"url": str(tmp_path / "repo"), "password": "env:TEST_RESTIC_PW"}
    path = tmp_path / "estate" / "estate.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(path)
    try:
        result = action.run_in(ctx, backup_action.select(ctx, [f"{tenant}/prod"]), server=api(url), interval=0.05)
        [failure] = result.failures
        assert "backups.repositories.offsite" in failure and "S3" in failure
        assert [r for r in rec.requests if r["method"] != "GET"] == []
    finally:
        ctx.close()


def test_a_run_killed_while_its_job_ran_adopts_that_job_instead_of_starting_another(setup: Setup) -> None:
    rec, ctx = setup.rec, setup.ctx
    envs = backup_action.select(ctx, [setup.target])
    # The first run created its Job and was killed while the Job ran (a wait of 0: it never saw it end).
    with pytest.raises(Exception, match="not finished after 0 s"):
        action.backup_env(ctx, connect(setup.path, "backups.run", context=None, kubeconfig=None,
                                       server=api(setup.url)),
                          cast(Operation, _Op()), envs[0], kind="manual", repos=None, wait=0, interval=0.05,
                          now=dt.datetime(2026, 12, 6, 13, 0, 5, tzinfo=dt.UTC))
    jobs = [p for p in rec.objects if "/jobs/" in p]
    assert len(jobs) == 1
    rec.on_get = setup.cluster.controller
    rec.requests.clear()
    result = action.run_in(ctx, envs, server=api(setup.url), interval=0.05, wait=120,
                           now=dt.datetime(2026, 12, 6, 13, 7, 0, tzinfo=dt.UTC))
    assert result.failures == []
    assert [p for p in rec.objects if "/jobs/" in p] == jobs  # adopted, not a second Job
    assert not [r for r in rec.requests if r["method"] == "POST"]
    assert len(setup.cluster.ran) == 1


class _Op:
    """An operation's steps run as they come (the journal is not what this test looks at)."""

    def step(self, name: str, target: str, act: Any, **_: Any) -> Any:
        return act()


# -- backup verify: a Job beside the database cluster restores and checks ----------------------------

def _superuser(rec: Recorder, pg_url: str) -> None:
    """The Secret CloudNativePG makes for a cluster with enableSuperuserAccess (here: this PostgreSQL's)."""
    user = psycopg.conninfo.conninfo_to_dict(pg_url).get("user") or "postgres"
    rec.objects["/api/v1/namespaces/odooplane/secrets/main-superuser"] = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "main-superuser", "namespace": "odooplane"},
        "data": {"username": base64.b64encode(str(user).encode()).decode(),
                 "password": base64.b64encode(b"superuser-pw-51c2").decode()}}


def _scratch_databases(pg_url: str, tenant: str) -> list[str]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"vfy-{tenant}%",)).fetchall()
    return [str(r[0]) for r in rows]


def _backup_then_verify(setup: Setup) -> tuple[str, list[verifying.Verification]]:
    ctx = setup.ctx
    envs = backup_action.select(ctx, [setup.target])
    made = action.run_in(ctx, envs, server=api(setup.url), interval=0.05, wait=120,
                         now=dt.datetime(2026, 12, 6, 13, 0, 5, tzinfo=dt.UTC))
    assert made.failures == []
    one = kubernetes_verify.in_cluster(ctx, repository=None, snapshot=None, server=api(setup.url), interval=0.05,
                                       wait=120, now=dt.datetime(2026, 12, 6, 13, 30, 0, tzinfo=dt.UTC))
    return made.backups[0].snapshots["offsite"], verify_action.run_in(ctx, envs, one=one)


def test_backup_verify_proves_the_backup_in_a_job_beside_the_database(setup: Setup, pg_url: str,
                                                                       tenant: str) -> None:
    rec = setup.rec
    rec.on_get = setup.cluster.controller
    _superuser(rec, pg_url)
    # What a verification killed in its pod left (its marker), and a database of the same prefix that is not one.
    slug = kubernetes_verify.job_slug(backup_action.select(setup.ctx, [setup.target])[0])
    left, foreign = f"vfy-{slug}-0badcafe", f"vfy-{slug}-0badcafe-eu"  # the second: not a name it makes
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for name in (left, foreign):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        for name in (left, foreign):
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(f"odooplane:{setup.ctx.estate_id}:sandbox/{name}")))
    try:
        snapshot, [verdict] = _backup_then_verify(setup)
        assert _scratch_databases(pg_url, tenant) == [foreign]  # the leftover and this run's scratch went
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            for name in (left, foreign):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    assert verdict.ok, verdict.failures
    assert verdict.snapshot == snapshot[:8]
    assert verdict.details["row_counts"]["res_partner"] == 7 and verdict.details["attachments"] == 1
    assert verdict.details["modules"] == 2 and verdict.details["artifacts_checked"] >= 3
    # The Job: in the platform namespace, the repository's and the superuser's Secrets as files, nothing secret.
    [job_path] = [p for p in rec.objects if "/jobs/" in p and "-verify-" in p]
    assert job_path.endswith(f"/namespaces/odooplane/jobs/{tenant}--prod-verify-20261206133000")
    job = rec.objects[job_path]
    assert PASSWORD not in json.dumps(job) and "superuser-pw-51c2" not in json.dumps(job)
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["superuser"]["secret"]["secretName"] == "main-superuser"
    assert volumes["restic"]["secret"]["secretName"] == "odooplane-restic-offsite"
    assert rec.objects["/api/v1/namespaces/odooplane/secrets/odooplane-restic-offsite"]["stringData"][
        "password"] == PASSWORD
    task = setup.cluster.ran[-1]
    assert task["host"] == "main-rw.odooplane.svc" and task["snapshot"].startswith(snapshot)
    # The evidence says what was proven, and that Odoo was not booted on the copy.
    [row] = evidence.query(setup.ctx.store, kind="restore-verification", target=setup.target, limit=10)
    assert row.ok and row.data["snapshot"] == snapshot[:8] and row.data["boot"] == kubernetes_verify.BOOT
    assert "PASSED" in row.summary and "Odoo boots" not in row.summary and "not checked" in row.summary


def test_an_attachment_that_does_not_match_its_checksum_fails_the_verification(
        setup: Setup, pg_url: str, tmp_path: Path, tenant: str) -> None:
    sha = hashlib.sha1(b"an invoice").hexdigest()
    (tmp_path / "pod" / "data" / "filestore" / f"{tenant}_prod" / sha[:2] / sha).write_bytes(b"another text")
    setup.rec.on_get = setup.cluster.controller
    _superuser(setup.rec, pg_url)
    _snapshot, [verdict] = _backup_then_verify(setup)
    assert not verdict.ok
    assert any("do not match their checksum" in f and sha in f for f in verdict.failures), verdict.failures
    [row] = evidence.query(setup.ctx.store, kind="restore-verification", target=setup.target, limit=10)
    assert not row.ok and "FAILED" in row.summary
    assert _scratch_databases(pg_url, tenant) == []


def test_without_the_superuser_secret_no_job_starts_and_the_failure_is_recorded(setup: Setup) -> None:
    setup.rec.on_get = setup.cluster.controller
    _snapshot, [verdict] = _backup_then_verify(setup)
    assert not verdict.ok
    assert any("odooplane/main-superuser is not there" in f for f in verdict.failures), verdict.failures
    assert not [p for p in setup.rec.objects if "-verify-" in p]
    [row] = evidence.query(setup.ctx.store, kind="restore-verification", target=setup.target, limit=10)
    assert not row.ok


def test_the_worker_reports_an_unreachable_cluster_as_failures_of_its_tick(
        tmp_path: Path, moto: MotoServer, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (("TEST_RESTIC_PW", PASSWORD), ("TEST_S3_KEY", "test"), ("TEST_S3_SECRET", "test-secret"),
                       ("KUBECONFIG", str(tmp_path / "no-kubeconfig"))):
        monkeypatch.setenv(key, value)
    doc = yaml.safe_load(_estate(tmp_path, moto, tenant).read_text())
    doc["backups"]["policies"]["standard"].update(schedule="0 * * * *", verify="after-each")
    path = tmp_path / "estate" / "estate.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    ctx = estate_file.context(path)
    try:
        first = schedule_action.tick(ctx)  # the environment is due: it was never backed up
        # A backup made since (by hand): its verification (after-each) is due next.
        evidence.add(ctx.store, kind="backup", target=f"{tenant}/prod", ok=True, summary="made by hand",
                     data={"snapshot": "0123abcd", "repository": "offsite"})
        second = schedule_action.tick(ctx)
    finally:
        ctx.close()
    assert first.backed_up == [] and second.verified == []
    assert [f for f in first.failures if "kubeconfig" in f] == [
        "scheduled backups: no usable kubeconfig: Invalid kube-config file. No configuration found."]
    assert "scheduled verifications: no usable kubeconfig: Invalid kube-config file. No configuration found." \
        in second.failures
