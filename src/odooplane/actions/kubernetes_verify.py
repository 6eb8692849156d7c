"""``verify`` on a kubernetes estate: the backup is proven in the cluster, beside the
database cluster, by a Job in Odooplane's own image (the platform namespace, where CloudNativePG
keeps the cluster's superuser Secret): the snapshot restored into an emptyDir, every artifact
checked against the manifest's SHA-256, the dump loaded into a scratch database as its own ordinary
role (pg_restore stopping at the first error), row counts, installed modules and every attachment's
sha1 compared with the manifest — then the scratch database and role dropped, whatever happened.
The control plane records the verdict as evidence, as on the other drivers.

What it does not do there: boot Odoo on the copy (the Job carries no Odoo); the evidence says so.

:func:`stage` is what the Job runs (``odooplane kubernetes verify-stage TASK``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from odooplane.actions import kubernetes_backup as backing
from odooplane.actions.kubernetes import Connected, connect, talking
from odooplane.actions.kubernetes_ops import placement
from odooplane.agent import tree
from odooplane.drivers import registry
from odooplane.drivers.base import FilestoreCheck, FilestoreRef
from odooplane.drivers.pg_client import ClientDatabases
from odooplane.errors import OdooplaneError, PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import sandbox
from odooplane.operations import verify as verifying
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.render import dockerfile
from odooplane.services import postgres, restic
from odooplane.services.postgres import ClusterConn
from odooplane.store import evidence

PATHS = registry.KUBERNETES_VERIFY
BOOT = "not checked: a verification in a kubernetes Job restores and checks the data; it does not boot Odoo on it"


# -- in the Job ---------------------------------------------------------------------------------

class RestoredFiles:
    """The restored filestore directory, checked as a driver's Storage checks one."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check(self, ref: FilestoreRef, attachments: list[tuple[str, str]]) -> FilestoreCheck:
        missing, corrupt = tree.check(self.root, attachments)
        return FilestoreCheck(len(attachments), tuple(missing), tuple(corrupt))


def job_slug(env: DesiredEnvironment) -> str:
    """A short name of ``env`` for the temporary databases and roles its Jobs make: readable, and
    unique (a hash of the environment's reference: ``a-b/c`` and ``a/b-c`` differ)."""
    digest = hashlib.sha256(str(env.ref).encode()).hexdigest()[:8]
    return f"{env.ref.slug.replace('__', '-')[:20].rstrip('-')}-{digest}"


def leftovers(admin: ClusterConn, prefix: str, marker: str, *, roles: bool = False) -> list[str]:
    """Scratch databases (or ``roles``) a killed Job of the same environment left: named exactly
    ``prefix`` + 8 hex digits and commented with ``marker`` + the same digits."""
    catalog = ("SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles" if roles
               else "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database")
    with postgres.connect(admin) as conn:
        rows = conn.execute(catalog).fetchall()
    found = []
    for name, comment in rows:
        token = str(name).removeprefix(prefix)
        if str(name).startswith(prefix) and re.fullmatch(r"[0-9a-f]{8}", token) and comment == marker + token:
            found.append(str(name))
    return found


def admin_conn(task: dict[str, Any]) -> ClusterConn:
    """The cluster's superuser, from the Secret mounted at the task's ``superuser`` directory."""
    field = backing.task_field
    superuser = Path(field(task, "superuser", str))
    return ClusterConn(name="cluster", host=field(task, "host", str), port=int(field(task, "port", int)),
                       user=(superuser / "username").read_text().strip(),
                       password=(superuser / "password").read_text().strip())


def stage(task: dict[str, Any]) -> dict[str, Any]:
    """Prove the snapshot ``task`` names restores: return ``ok`` (the work was done) with the
    ``failures`` found (none: it verified) and the checks' details."""
    field = backing.task_field
    target = field(task, "target", str)
    item = field(task, "repository", dict)
    repo = backing.pod_repository(item)
    snap = restic.Snapshot(id=field(task, "snapshot", str), short_id=field(task, "snapshot", str)[:8],
                           time=dt.datetime.now(dt.UTC), tags=(), paths=tuple(field(task, "paths", list)))
    admin = admin_conn(task)
    prefix = f"vfy-{field(task, 'slug', str)}-"
    marker = f"odooplane:{field(task, 'estate', str)}:sandbox/{prefix}"
    for name in leftovers(admin, prefix, marker):
        sandbox.drop_scratch(admin, database=name, role=name)
    failures: list[str] = []
    details: dict[str, Any] = {"boot": BOOT}
    restored = sandbox.fetch(repo, snap, Path(field(task, "work", str)) / "restore")
    artifacts = sandbox.check_artifacts(restored)
    failures += artifacts.failures
    details.update(artifacts.details)
    if not artifacts.ok:
        return {"ok": True, "target": target, "failures": failures, "details": details}
    name = f"{prefix}{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    try:
        sandbox.create_scratch(admin, database=name, role=name, password=password,
                               comment=f"{marker}{name[len(prefix):]}")
        sandbox.load_dump(ClientDatabases(), admin, restored, database=name, role=name, password=password)
        # Read as the copy's own role: nothing a tenant put in its database runs as the superuser.
        checks = sandbox.check_database(RestoredFiles(restored.root / "filestore"),
                                        dataclasses.replace(admin, user=name, password=password), name, restored,
                                        FilestoreRef("restored", name))
        failures += checks.failures
        details.update(checks.details)
    except OdooplaneError as exc:
        failures.append(exc.message)
    finally:
        sandbox.drop_scratch(admin, database=name, role=name)
    return {"ok": True, "target": target, "failures": failures, "details": details}


# -- on the control plane -----------------------------------------------------------------------

def _job(ctx: Context, env: DesiredEnvironment, repo: restic.Repository, snap: restic.Snapshot, *,
         now: dt.datetime) -> dict[str, Any]:
    settings = ctx.estate.platform.kubernetes
    task = {"target": str(env.ref), "snapshot": snap.id, "paths": list(snap.paths),
            "repository": {"name": repo.name, "url": repo.url, "secrets": f"{PATHS.restic}/{repo.name}"},
            "host": f"{env.cluster_name}-rw.{settings.namespace}.svc", "port": 5432, "superuser": PATHS.superuser,
            "work": PATHS.work, "slug": job_slug(env), "estate": ctx.estate_id}
    name, of = registry.kubernetes_backup_job_names(env.ref.tenant, env.ref.env, now.strftime("%Y%m%d%H%M%S"),
                                                    verb="verify")
    command = [dockerfile.CONTROL_PYTHON, "-m", "odooplane", "kubernetes", "verify-stage",
               json.dumps(task, sort_keys=True)]
    return registry.kubernetes_verify_job(name=name, of=of, namespace=settings.namespace, target=str(env.ref),
                                          image=settings.control_image, command=command, repository=repo.name,
                                          superuser_secret=f"{env.cluster_name}-superuser", settings=settings)


def require_superuser(connected: Connected, namespace: str, cluster: str) -> None:
    """PermanentError unless CloudNativePG's superuser Secret of ``cluster`` is there."""
    superuser = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{cluster}-superuser",
                                                                     "namespace": namespace}}
    with talking("the superuser Secret"):
        if connected.api.get(superuser) is None:
            raise PermanentError(f"Secret {namespace}/{cluster}-superuser is not there: CloudNativePG makes it for "
                                 "a cluster with enableSuperuserAccess (apply the estate first)")


def verify_env(ctx: Context, connected: Connected, op: Operation, env: DesiredEnvironment, *,
               repository: str | None, snapshot: str | None, wait: float, interval: float,
               now: dt.datetime) -> verifying.Verification:
    """Prove a backup of ``env`` restores, by a Job in the cluster; always record evidence (passed
    or failed) once a snapshot was chosen."""
    t = str(env.ref)
    if env.cluster.kind != "managed":
        raise PermanentError(f"{t}: its cluster {env.cluster_name} is not managed by Odooplane: on kubernetes a "
                             "verification restores into a managed (CloudNativePG) cluster")
    repo = backing.chosen_repository(ctx, env, repository)
    snap = verifying.find_snapshot(ctx, env, repo, snapshot=snapshot)
    namespace = ctx.estate.platform.kubernetes.namespace
    placement(connected, env)  # the environment is in the rendered estate
    result = verifying.Verification(target=t, snapshot=snap.short_id, repository=repo.name, ok=False, rto_s=0.0)
    started = ctx.clock.monotonic()
    job = _job(ctx, env, repo, snap, now=now)
    try:
        require_superuser(connected, namespace, env.cluster_name)
        with talking("verify"):
            op.step(f"secret-{repo.name}", t, partial(connected.api.apply, backing.repository_secret(repo, namespace),
                                                      manager=backing.SECRET_MANAGER))
        outcome = op.step("job", t, lambda: backing.run_job(connected, job, wait=wait, interval=interval,
                                                            label_key=PATHS.label, container=PATHS.container),
                          detail=str(job["metadata"]["name"]))
        result.failures += [str(f) for f in outcome.get("failures") or []]
        result.details.update(outcome.get("details") or {})
    except StepFailed as exc:
        result.failures.append(f"{exc.step}: {exc.reason}")
    except OdooplaneError as exc:
        result.failures.append(exc.message)
    result.details.setdefault("boot", BOOT)
    result.rto_s = round(ctx.clock.monotonic() - started, 2)
    result.ok = not result.failures
    data = {"snapshot": snap.short_id, "repository": repo.name, "rto_s": result.rto_s, "failures": result.failures,
            "snapshot_time": snap.time.isoformat(), "job": f"{namespace}/{job['metadata']['name']}", **result.details}
    result.evidence_id = evidence.add(ctx.store, kind="restore-verification", target=t, ok=result.ok, data=data,
                                      summary=verifying.summary_text(result), operation_id=op.op_id)
    return result


def in_cluster(ctx: Context, *, repository: str | None, snapshot: str | None,
               server: registry.ApiServer | None = None, context: str | None = None, kubeconfig: str | None = None,
               wait: float = 6 * 3600, interval: float = 2.0, now: dt.datetime | None = None
               ) -> Callable[[Operation, DesiredEnvironment], verifying.Verification]:
    """How ``verify`` proves one environment's backup on a kubernetes estate (UsageError at
    once, before any operation, when no kubeconfig reaches a cluster)."""
    connected = connect(ctx.valid.path, "backups.run", context=context, kubeconfig=kubeconfig, server=server)

    def one(op: Operation, env: DesiredEnvironment) -> verifying.Verification:
        return verify_env(ctx, connected, op, env, repository=repository, snapshot=snapshot, wait=wait,
                          interval=interval, now=now or ctx.clock.now())

    return one
