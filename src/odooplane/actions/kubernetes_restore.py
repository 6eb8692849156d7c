"""``restore TENANT/ENV`` (in place, from a backup) on a kubernetes estate, as Jobs in the cluster.

The same order as on the other drivers: the copy is loaded and checked beside the live data first,
and the environment is only touched once it verified.

1. ``restore-db`` (platform namespace, CloudNativePG's superuser Secret and the repository's as
   files): the snapshot's dump checked against the manifest, loaded into ``<db>__restore`` by a
   temporary ordinary role (pg_restore stopping at the first error; nothing in the archive acts
   beyond that role), its objects then handed to the environment's role; row counts and installed
   modules compared with the manifest.
2. ``restore-fs`` (the environment's namespace, its filestore volume read-write): the snapshot's
   filestore restored onto that volume, checked against the manifest's SHA-256, staged as
   ``filestore/<db>.restore``, and every attachment of the copy checked there with its sha1.
3. The environment's Deployments scaled to 0 (waited for).
4. ``swap-db``: ``<db>`` renamed ``<db>__old``, the copy renamed ``<db>``, the old dropped.
5. ``swap-fs``: the staged filestore put in place the same way.
6. The Deployments scaled back (to the rendered count, or their autoscaler's minimum) and waited
   for until ready (their readiness probe is Odoo's ``/web/health``); then the evidence.

A pooled environment's pool is not stopped (it serves other tenants): steps 3 and 6 are skipped,
``swap-db`` closes that database's connections only, and Odoo is asked through the pool with the
edge's database header. A copy of another environment gets its identity (``identity``) and a
clone's is neutralized (``odoo-neutralize``, ``neutralize``) between steps 1 and 2; a failure
before the swap drops the copy (``discard-db``).

Every step is idempotent and each Job is adopted by a re-run while it runs: a restore killed at
any step converges when run again (the environment stays stopped until then).

:func:`stage` is what the Jobs run (``odooplane kubernetes restore-stage TASK``)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import secrets
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from psycopg import sql

from odooplane.actions import kubernetes_backup as backing
from odooplane.actions import kubernetes_verify as verifying_in
from odooplane.actions.kubernetes import Connected, connect, talking
from odooplane.actions.kubernetes_ops import (
    IDENTITY_MANAGER,
    Probe,
    default_probe,
    identity_secret,
    job_state,
    placement,
)
from odooplane.clock import wait_until
from odooplane.drivers import registry
from odooplane.drivers.base import FilestoreRef
from odooplane.drivers.pg_client import ClientDatabases
from odooplane.errors import OdooplaneError, PermanentError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import clones, locks, sandbox, temporaries
from odooplane.operations.backups import MANIFEST
from odooplane.operations.context import Context
from odooplane.operations.desired import base_url, secret_name
from odooplane.operations.restore import RestoreResult, temp_database
from odooplane.operations.runner import Operation
from odooplane.operations.verify import find_snapshot
from odooplane.render import dockerfile
from odooplane.render.traefik import DATABASE_HEADER
from odooplane.services import anonymize as anonymizing
from odooplane.services import neutralize, odoo_db, postgres, restic
from odooplane.store import evidence

SCALE_MANAGER = "odooplane-restore"  # the replicas a restore sets while it swaps
PARTS = ("restore-db", "restore-fs", "swap-db", "swap-fs")


# -- in the Jobs --------------------------------------------------------------------------------

def _snapshot(task: dict[str, Any]) -> restic.Snapshot:
    field = backing.task_field
    return restic.Snapshot(id=field(task, "snapshot", str), short_id=field(task, "snapshot", str)[:8],
                           time=dt.datetime.now(dt.UTC), tags=(), paths=tuple(field(task, "paths", list)))


def _fetch_part(repo: restic.Repository, snap: restic.Snapshot, into: Path, part: str
                ) -> tuple[sandbox.Restored, int]:
    """The manifest and one part (``dump`` or ``filestore``) of the backup ``snap``, restored under
    ``into`` (a new directory) and checked against the manifest's SHA-256 (PermanentError if not);
    with the number of artifacts checked."""
    stage_path = snap.paths[0].rstrip("/")
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    manifest = json.loads(restic.dump(repo, snap.id, f"{stage_path}/{MANIFEST}"))
    restic.restore(repo, snap.id, into, include=f"{stage_path}/{part}")
    restored = sandbox.Restored(into / stage_path.lstrip("/"), manifest, snap.short_id, repo.name)
    listed = {k: v for k, v in dict(manifest.get("artifacts", {})).items() if k.startswith(f"{part}/")}
    found = sandbox.check_artifacts(sandbox.Restored(restored.root, {"artifacts": listed}, snap.short_id, repo.name))
    if not found.ok:
        raise PermanentError("; ".join(found.failures))
    return restored, int(found.details["artifacts_checked"])


def _restore_database(task: dict[str, Any]) -> dict[str, Any]:
    field = backing.task_field
    admin = verifying_in.admin_conn(task)
    temp, owner = field(task, "temp", str), field(task, "owner", str)
    repo = backing.pod_repository(field(task, "repository", dict))
    restored, checked = _fetch_part(repo, _snapshot(task), Path(field(task, "work", str)) / "restore", "dump")
    prefix = f"rst-{field(task, 'slug', str)}-"
    marker = f"odooplane:{field(task, 'estate', str)}:loader/{prefix}"
    postgres.drop_database(admin, temp)  # a killed restore's copy (and its loader, below), never the live data
    for name in verifying_in.leftovers(admin, prefix, marker, roles=True):
        postgres.drop_role(admin, name)
    loader, password = f"{prefix}{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    sandbox.create_scratch(admin, database=temp, role=loader, password=password,
                           comment=marker + loader.removeprefix(prefix))
    try:
        sandbox.load_dump(ClientDatabases(), admin, restored, database=temp, role=loader, password=password)
        # Read as the loader: nothing a tenant put in its database runs as the superuser.
        checks = sandbox.check_facts(dataclasses.replace(admin, user=loader, password=password), temp, restored)
        if not checks.ok:
            raise PermanentError("the restored copy does not verify: " + "; ".join(checks.failures))
        with postgres.connect(admin, temp) as conn:  # the copy, and all in it, becomes the environment's role's
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(loader), sql.Identifier(owner)))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(loader)))
        with postgres.connect(admin) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(temp), sql.Identifier(owner)))
    except BaseException:
        postgres.drop_database(admin, temp)
        raise
    finally:
        postgres.drop_role(admin, loader)
    return {"ok": True, "details": {**checks.details, "artifacts_checked": checked}}


def _discard_database(task: dict[str, Any]) -> dict[str, Any]:
    """Drop the copy ``<db>__restore`` of a restore or clone that failed before its swap (nothing of
    it stays on the cluster; the live database is another name)."""
    postgres.drop_database(verifying_in.admin_conn(task), backing.task_field(task, "temp", str))
    return {"ok": True}


def _filestores(task: dict[str, Any]) -> tuple[Path, Path, Path]:
    """(live, staged, swapped out) filestore directories of the task's database on its volume."""
    field = backing.task_field
    root = Path(field(task, "data", str)) / "filestore"
    database = field(task, "database", str)
    return root / database, root / f"{database}.restore", root / f"{database}.old"


def _restore_filestore(task: dict[str, Any]) -> dict[str, Any]:
    field = backing.task_field
    snap = _snapshot(task)
    repo = backing.pod_repository(field(task, "repository", dict))
    _live, staged, _old = _filestores(task)
    scratch = Path(field(task, "data", str)) / ".odooplane-restore"  # on the volume: the staged copy is a rename
    shutil.rmtree(staged, ignore_errors=True)
    try:
        restored, checked = _fetch_part(repo, snap, scratch / field(task, "database", str), "filestore")
        staged.parent.mkdir(parents=True, exist_ok=True)
        if (restored.root / "filestore").is_dir():
            (restored.root / "filestore").rename(staged)
        else:
            staged.mkdir()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    conn = backing.odoo_conn(task)
    files = sandbox.check_attachments(verifying_in.RestoredFiles(staged), conn, field(task, "temp", str),
                                      FilestoreRef("restored", field(task, "temp", str)))
    if not files.ok:
        shutil.rmtree(staged, ignore_errors=True)
        raise PermanentError("the restored filestore does not verify: " + "; ".join(files.failures))
    return {"ok": True, "details": {**files.details, "filestore_artifacts_checked": checked}}


def _swap_database(task: dict[str, Any]) -> dict[str, Any]:
    """Put the copy in place: ``<db>`` → ``<db>__old`` and the copy → ``<db>`` in one transaction
    (there is no moment without ``<db>``), then the old one dropped. Run again after any kill, it
    finishes: a copy still there is swapped in, an old one left is dropped."""
    field = backing.task_field
    admin = verifying_in.admin_conn(task)
    database, temp = field(task, "database", str), field(task, "temp", str)
    old = f"{database}__old"
    exists = postgres.database_exists
    if exists(admin, temp):
        postgres.drop_database(admin, old)  # a finished swap's leftover: never the live data (that is <db>)
        live = exists(admin, database)
        if live:
            postgres.allow_connections(admin, database, False)  # and the open ones closed
        with postgres.connect(admin) as conn, conn.transaction():
            row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                               (database,)).fetchone()
            mark = str(row[0]).partition("|")[0] if row and row[0] else ""  # who owns it, not what it held
            if live:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(database),
                                                                              sql.Identifier(old)))
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(temp),
                                                                          sql.Identifier(database)))
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(database), sql.Literal(mark)))
    elif not exists(admin, database):
        raise PermanentError(f"neither {database} nor its restored copy {temp} exists: nothing to put in place")
    if not task.get("keep_closed"):  # a pool's: opened only once its filestore is in place (open-db)
        postgres.allow_connections(admin, database, True)
    postgres.drop_database(admin, old)
    return {"ok": True}


def _swap_filestore(task: dict[str, Any]) -> dict[str, Any]:
    live, staged, old = _filestores(task)
    if staged.is_dir():
        if live.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            live.rename(old)
        staged.rename(live)
    shutil.rmtree(old, ignore_errors=True)
    return {"ok": True}


def _identity(task: dict[str, Any]) -> dict[str, Any]:
    """Give ``database`` (a new environment's, or the copy of another environment about to become
    it) its own identity, as Odoo's role: a new uuid and secret, its ``web.base.url``, the admin
    password whose hash the identity Secret holds, no API keys."""
    field = backing.task_field
    hashed = (Path(field(task, "identity", str)) / registry.KUBERNETES_IDENTITY_KEY).read_text().strip()
    if not hashed.startswith("$pbkdf2-"):
        raise PermanentError("the identity Secret holds no pbkdf2 password hash")
    database = field(task, "database", str)
    odoo_db.reset_identity(backing.odoo_conn(task), database, odoo_db.Identity(field(task, "base_url", str), hashed))
    return {"ok": True, "database": database}


def _neutralize(task: dict[str, Any]) -> dict[str, Any]:
    """A clone's copy made unable to reach anything real (the platform's guarantees, after Odoo's
    own ``neutralize``), anonymized when asked, then every guarantee checked, as Odoo's role. A
    copy that fails is dropped here and now: production data that is not safe to serve stays
    nowhere."""
    field = backing.task_field
    conn = backing.odoo_conn(task)
    database = field(task, "database", str)
    host, port = field(task, "smtp_host", str), int(field(task, "smtp_port", int))
    try:
        report = neutralize.enforce(conn, database, smtp_host=host, smtp_port=port,
                                    series_major=int(field(task, "series", int)))
        out: dict[str, Any] = {"neutralized": report.changes, "mail_catcher": f"{host}:{port}", "anonymized": None}
        if task.get("anonymize"):
            salt = (Path(field(task, "identity", str)) / registry.KUBERNETES_SALT_KEY).read_text().strip()
            done = anonymizing.anonymize(conn, database, salt=salt)
            out["anonymized"] = {"partners": done.partners, "users": done.users, "kept_logins": list(done.users_kept)}
        failures = neutralize.verify(conn, database, smtp_host=host, smtp_port=port)
        if failures:
            raise PermanentError("the copy is not safe to serve, so it was dropped: " + "; ".join(failures))
    except BaseException:
        postgres.drop_database(conn, database)  # its owner may; the live database is another one
        raise
    return {"ok": True, "details": {**out, "verified": True}}


def stage(task: dict[str, Any]) -> dict[str, Any]:
    """Run the restore step ``task["part"]`` names (one of :data:`PARTS`, ``identity`` or
    ``neutralize``)."""
    part = backing.task_field(task, "part", str)
    steps = {"restore-db": _restore_database, "restore-fs": _restore_filestore, "swap-db": _swap_database,
             "swap-fs": _swap_filestore, "identity": _identity, "neutralize": _neutralize,
             "discard-db": _discard_database, "open-db": _swap_database}
    if part not in steps:
        raise UsageError(f"restore task: part must be one of {', '.join(steps)}, not {part!r}")
    return steps[part](task)


# -- on the control plane -----------------------------------------------------------------------

@dataclass(frozen=True)
class Neutralization:
    """What a clone does to its copy before the swap (after its identity)."""

    smtp_host: str  # the target's mail catcher, as its odoo.conf names it
    smtp_port: int
    series_major: int
    odoo_neutralize: bool  # Odoo's own ``neutralize`` first (16+)
    anonymize_salt: str | None  # anonymized with this salt, or not at all


def deployments(connected: Connected, env: DesiredEnvironment) -> list[dict[str, Any]]:
    namespace, base = placement(connected, env)
    return [o for o in connected.objects if o["kind"] == "Deployment" and o["metadata"].get("namespace") == namespace
            and o["metadata"].get("labels", {}).get(registry.KUBERNETES_LABEL_INSTANCE) == base]


def desired_replicas(connected: Connected, deployment: dict[str, Any]) -> int:
    if "replicas" in deployment["spec"]:
        return int(deployment["spec"]["replicas"])
    meta = deployment["metadata"]
    return next((int(o["spec"]["minReplicas"]) for o in connected.objects if o["kind"] == "HorizontalPodAutoscaler"
                 and o["metadata"].get("namespace") == meta["namespace"]
                 and o["spec"]["scaleTargetRef"]["name"] == meta["name"]), 1)


def _selector(deployment: dict[str, Any]) -> str:
    labels = deployment["spec"]["selector"]["matchLabels"]
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def scale(connected: Connected, deployments: list[dict[str, Any]], *, up: bool, wait: float,
           interval: float) -> None:
    """Scale ``deployments`` to 0 and wait until none of their pods is left (terminating ones
    included: they may still hold connections or write files), or back to their desired count and
    wait until that many are updated and ready."""
    api = connected.api
    wanted = {str(d["metadata"]["name"]): desired_replicas(connected, d) if up else 0 for d in deployments}
    with talking("restore"):
        if not up:  # one not there (yet) has nothing to stop
            deployments = [d for d in deployments if api.get(d) is not None]
        for obj in deployments:
            api.merge_patch(obj, {"spec": {"replicas": wanted[str(obj["metadata"]["name"])]}}, manager=SCALE_MANAGER)
        pending: list[str] = []

        def settled() -> bool:
            pending.clear()
            for obj in deployments:
                name = str(obj["metadata"]["name"])
                if up:
                    status = (api.get(obj) or {}).get("status", {})
                    if min(int(status.get("readyReplicas") or 0), int(status.get("updatedReplicas") or 0)) \
                            < wanted[name]:
                        pending.append(name)
                elif api.list("v1", "Pod", str(obj["metadata"]["namespace"]), label_selector=_selector(obj)):
                    pending.append(name)
            return not pending

        if not wait_until(settled, timeout=wait, interval=interval):
            what = "ready" if up else "stopped"
            raise PermanentError(f"not {what} after {wait:.0f} s: {', '.join(pending)}")


def serves(probe: Probe, namespace: str, service: str, database: str, *, wait: float, interval: float,
            routed: bool = False) -> None:
    """Odoo answers its login page on the restored database (200), which reads it; ``routed``: a
    pool's, asked with the database header its edge sets."""
    last: list[tuple[int, str]] = []
    path = f"/web/login?db={database}"

    def answered() -> bool:
        last.append(probe(namespace, service, path, headers={DATABASE_HEADER: database}) if routed
                    else probe(namespace, service, path))
        return last[-1][0] == 200

    if not wait_until(answered, timeout=wait, interval=interval):
        raise PermanentError(f"{namespace}/{service}: /web/login answered {last[-1][0] if last else 'nothing'} "
                             f"within {wait:.0f} s of the restore")


def settle_earlier_jobs(connected: Connected, jobs: dict[str, dict[str, Any]], *, wait: float,
                         interval: float) -> None:
    """Wait for the Jobs an earlier, killed run of this restore left running (whatever they do is
    done over by this run, step by step: none may run beside it)."""
    api = connected.api

    def idle() -> bool:
        for part, job in jobs.items():
            meta = job["metadata"]
            label = registry.kubernetes_job_label(part)
            if any(job_state(j) == "active" for j in api.list(
                    "batch/v1", "Job", str(meta["namespace"]), label_selector=f"{label}={meta['labels'][label]}")):
                return False
        return True

    with talking("restore"):
        if not wait_until(idle, timeout=wait, interval=interval):
            target = next(iter(jobs.values()))["metadata"]["annotations"]["odooplane.io/target"]
            raise PermanentError(f"a Job of an earlier restore of {target} still runs after {wait:.0f} s")


def _command(task: dict[str, Any]) -> list[str]:
    return [dockerfile.CONTROL_PYTHON, "-m", "odooplane", "kubernetes", "restore-stage",
            json.dumps(task, sort_keys=True)]


def _parts(identity: str | None, neutralization: Neutralization | None) -> tuple[str, ...]:
    """The Jobs of a restore in order: a copy of another environment gets its identity, a clone's
    is then neutralized (Odoo's own first), all before the filestore is staged and anything swapped."""
    extra: tuple[str, ...] = ("identity",) if identity else ()
    if neutralization is not None:
        extra += (*(("odoo-neutralize",) if neutralization.odoo_neutralize else ()), "neutralize")
    return (*PARTS[:1], *extra, *PARTS[1:])


def _jobs(ctx: Context, connected: Connected, env: DesiredEnvironment, repo: restic.Repository,
          snap: restic.Snapshot, *, now: dt.datetime, identity: str | None = None,
          neutralization: Neutralization | None = None) -> dict[str, dict[str, Any]]:
    """The restore's Jobs by part (:func:`_parts`); ``identity``: the target's identity Secret (a
    copy of another environment)."""
    settings = ctx.estate.platform.kubernetes
    namespace, base = placement(connected, env)
    deployment = next((d for d in deployments(connected, env) if d["metadata"]["name"] == f"{base}-http"), None)
    if deployment is None:
        raise PermanentError(f"{env.ref}: no web Deployment {namespace}/{base}-http is rendered for it")
    stamp = now.strftime("%Y%m%d%H%M%S")
    paths = registry.KUBERNETES_BACKUP
    common = {"target": str(env.ref), "database": env.database, "temp": temp_database(env), "owner": env.role,
              "snapshot": snap.id, "paths": list(snap.paths), "estate": ctx.estate_id,
              "slug": verifying_in.job_slug(env),
              "repository": {"name": repo.name, "url": repo.url, "secrets": f"{paths.restic}/{repo.name}"}}
    platform = {"host": f"{env.cluster_name}-rw.{settings.namespace}.svc", "port": 5432,
                "superuser": registry.KUBERNETES_VERIFY.superuser, "work": registry.KUBERNETES_VERIFY.work}
    host, port = backing.direct_host(ctx, env)
    pod = {"host": host, "port": port, "conf": paths.conf, "data": paths.data}
    jobs: dict[str, dict[str, Any]] = {}
    for part in (*_parts(identity, neutralization), "discard-db", "open-db"):
        name, of = registry.kubernetes_backup_job_names(env.ref.tenant, env.ref.env, stamp, verb=part)
        if part == "identity":  # as Odoo's role, in the environment's namespace
            jobs[part] = registry.kubernetes_backup_job(
                deployment, name=name, of=of, target=str(env.ref), image=settings.control_image,
                command=registry.kubernetes_identity_command(database=temp_database(env),
                                                             base_url=base_url(ctx, env), host=host, port=port),
                repositories=[], component=part, identity=identity)
        elif part == "odoo-neutralize":  # Odoo's own, in its image, with its configuration
            jobs[part] = registry.kubernetes_odoo_job(
                deployment, name=name, of=of, target=str(env.ref), component=part,
                args=["neutralize", "-c", paths.conf, "-d", temp_database(env)])
        elif part == "neutralize":
            assert neutralization is not None
            task = {**common, **pod, "part": part, "database": temp_database(env),
                    "smtp_host": neutralization.smtp_host, "smtp_port": neutralization.smtp_port,
                    "series": neutralization.series_major, "anonymize": neutralization.anonymize_salt is not None,
                    "identity": registry.KUBERNETES_IDENTITY_DIR}
            jobs[part] = registry.kubernetes_backup_job(
                deployment, name=name, of=of, target=str(env.ref), image=settings.control_image,
                command=_command(task), repositories=[], component=part, identity=identity)
        elif part.endswith("-db"):
            # A pool's database stays closed after its swap until its filestore is in place (open-db).
            closed = {"keep_closed": True} if part == "swap-db" and env.pool is not None else {}
            jobs[part] = registry.kubernetes_verify_job(
                name=name, of=of, namespace=settings.namespace, target=str(env.ref), image=settings.control_image,
                command=_command({**common, **platform, **closed, "part": part}), repository=repo.name,
                superuser_secret=f"{env.cluster_name}-superuser", settings=settings, component=part)
        else:
            jobs[part] = registry.kubernetes_backup_job(
                deployment, name=name, of=of, target=str(env.ref), image=settings.control_image,
                command=_command({**common, **pod, "part": part}),
                repositories=[repo.name] if part == "restore-fs" else [], component=part, writable=True)
    return jobs


def preflight(ctx: Context, connected: Connected, env: DesiredEnvironment, source: DesiredEnvironment) -> None:
    """What refuses a restore (or clone) of ``source`` into ``env`` before anything is sent."""
    t, s = str(env.ref), str(source.ref)
    if source.ref.tenant != env.ref.tenant:
        raise UsageError(f"--from {s}: on kubernetes a restore from another environment stays within one tenant "
                         "(a tenant's namespace holds only its own repository Secrets); nothing was done")
    if env.stateless is not None and env.stateless.attachments:
        raise PermanentError(f"{t}: its attachments are in a bucket; restores of stateless environments are not "
                             "made in a cluster yet (nothing was done)")
    if env.cluster.kind != "managed":
        raise PermanentError(f"{t}: its cluster {env.cluster_name} is not managed by Odooplane: on kubernetes a "
                             "restore needs the managed (CloudNativePG) cluster's superuser Secret")
    verifying_in.require_superuser(connected, ctx.estate.platform.kubernetes.namespace, env.cluster_name)


def restore_env(ctx: Context, connected: Connected, op: Operation, env: DesiredEnvironment, *,
                repository: str | None, snapshot: str | None, at: dt.datetime | None, unconfirmed: bool,
                wait: float, interval: float, now: dt.datetime, probe: Probe | None = None,
                source: DesiredEnvironment | None = None, neutralization: Neutralization | None = None,
                kind: str = "restore") -> RestoreResult:
    """Restore ``env`` in place from the newest confirmed backup (at or before ``at``) or
    ``snapshot`` of ``source`` (default: itself; another environment of its tenant: the copy gets
    ``env``'s own identity before it is put in place, and with ``neutralization`` — a clone — is
    neutralized and proven so before that)."""
    t = str(env.ref)
    source = source or env
    s = str(source.ref)
    preflight(ctx, connected, env, source)
    repo = backing.chosen_repository(ctx, source, repository)
    snap = find_snapshot(ctx, source, repo, snapshot=snapshot, at=at, unconfirmed=unconfirmed)
    started = ctx.clock.monotonic()
    settings = ctx.estate.platform.kubernetes
    namespace, base = placement(connected, env)
    served_by = deployments(connected, env)
    # The environment's own Secret (in a pool's namespace too: its tenants' restores never share one).
    own = registry.kubernetes_env_base(env.ref.tenant, env.ref.env)
    identity = registry.kubernetes_identity_secret_name(own) if source.ref != env.ref else None
    # A pool serves other tenants: it is never stopped for one. Its database is swapped with its
    # connections refused and closed (as on the other drivers), and asked for through the pool with
    # the database header the edge sets.
    pooled = env.pool is not None
    if neutralization is not None and identity is None:
        raise UsageError(f"{t}: a clone needs another environment as its source")
    jobs = _jobs(ctx, connected, env, repo, snap, now=now, identity=identity, neutralization=neutralization)
    probe = probe or default_probe(connected.api)
    with locks.hold(ctx.store, temporaries.lock_name(t), wait=60, what=t, op=op):
        settle_earlier_jobs(connected, jobs, wait=wait, interval=interval)
        for where in sorted({settings.namespace, namespace}):
            with talking("restore"):
                op.step(f"secret-{repo.name}", f"{t} {where}", partial(
                    connected.api.apply, backing.repository_secret(repo, where), manager=backing.SECRET_MANAGER))
        if identity is not None:
            password = ctx.secrets.get_or_create(secret_name(env, "admin_user_password"))
            secret = identity_secret(jobs["identity"], password, anonymize_salt=neutralization.anonymize_salt
                                     if neutralization is not None else None)
            assert secret is not None
            with talking("restore"):
                op.step("secret-identity", t, partial(connected.api.apply, secret, manager=IDENTITY_MANAGER))

        def run(part: str) -> dict[str, Any]:
            odoo = part == "odoo-neutralize"  # Odoo's own command: its success is the outcome
            return backing.run_job(connected, jobs[part], wait=wait, interval=interval,
                                   label_key=registry.kubernetes_job_label(part),
                                   container="odoo" if odoo else part, printed=not odoo)

        neutralized: dict[str, Any] = {}
        try:
            loaded = op.step("restore-db", t, lambda: run("restore-db"), detail=f"{s} {snap.short_id}")
            if identity is not None:  # the copy becomes this environment's, before anything is swapped
                op.step("identity", t, lambda: run("identity"))
            if neutralization is not None:  # before anything is staged or swapped: an unsafe copy goes
                if neutralization.odoo_neutralize:
                    op.step("odoo-neutralize", t, lambda: run("odoo-neutralize"))
                neutralized = op.step("neutralize", t, lambda: run("neutralize"))
            staged = op.step("restore-fs", t, lambda: run("restore-fs"))
        except OdooplaneError:  # nothing was swapped: the copy goes now (else the next run drops it first)
            with contextlib.suppress(OdooplaneError):
                op.step("discard", t, lambda: run("discard-db"))
            raise
        try:
            if not pooled:
                op.step("stop", t, lambda: scale(connected, served_by, up=False, wait=wait, interval=interval))
        except OdooplaneError:  # nothing was swapped: what serves it is brought back as it was, the copy goes
            scale(connected, served_by, up=True, wait=0, interval=interval)
            with contextlib.suppress(OdooplaneError):
                op.step("discard", t, lambda: run("discard-db"))
            raise
        op.step("swap-db", t, lambda: run("swap-db"))
        op.step("swap-fs", t, lambda: run("swap-fs"))
        if pooled:  # its database was kept closed since the swap: no upload lands in the old filestore
            op.step("open-db", t, lambda: run("open-db"))
        if not pooled:
            op.step("start", t, lambda: scale(connected, served_by, up=True, wait=wait, interval=interval))
        op.step("serves", t, lambda: serves(probe, namespace, f"{base}-http", env.database, wait=min(wait, 300),
                                             interval=interval, routed=pooled))
    result = RestoreResult(source=s, target=t, snapshot=snap.short_id, repository=repo.name, in_place=True,
                           checks={**loaded.get("details", {}), **staged.get("details", {}),
                                   **neutralized.get("details", {})})
    if identity is not None:
        result.checks["identity"] = "reset"
    result.rto_s = round(ctx.clock.monotonic() - started, 2)
    done = "restored" if kind == "restore" else f"{kind}d"
    evidence.add(ctx.store, kind=kind, target=t, ok=True, operation_id=op.op_id, data={
        "source": s, "snapshot": snap.short_id, "point": at.isoformat() if at else None, "repository": repo.name,
        "in_place": True, "rto_s": result.rto_s, "driver": "kubernetes", **result.checks},
        summary=f"{t}: {done} from {s} {snap.short_id} (in place, in the cluster) in {result.rto_s:.1f} s")
    return result


def run(ctx: Context, op: Operation, env: DesiredEnvironment, *, repository: str | None = None,
        snapshot: str | None = None, at: dt.datetime | None = None, unconfirmed: bool = False,
        server: registry.ApiServer | None = None, context: str | None = None, kubeconfig: str | None = None,
        wait: float = 6 * 3600, interval: float = 2.0, now: dt.datetime | None = None,
        probe: Probe | None = None, source: DesiredEnvironment | None = None) -> RestoreResult:
    """``restore`` of a kubernetes estate's environment in place, from its own backup or
    ``source``'s (UsageError when no kubeconfig reaches a cluster)."""
    connected = connect(ctx.valid.path, "restore", context=context, kubeconfig=kubeconfig, server=server)
    return restore_env(ctx, connected, op, env, repository=repository, snapshot=snapshot, at=at,
                       unconfirmed=unconfirmed, wait=wait, interval=interval, now=now or ctx.clock.now(),
                       probe=probe, source=source)


def _catcher(connected: Connected, env: DesiredEnvironment) -> tuple[str, int]:
    """The mail catcher the environment's Odoo sends to (``smtp_server``/``smtp_port`` of its
    rendered odoo.conf: the platform's mail sink): where a clone's copy must send too."""
    import configparser

    namespace, base = placement(connected, env)
    conf = next((o for o in connected.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{base}-conf"
                 and o["metadata"].get("namespace") == namespace), None)
    parser = configparser.ConfigParser(interpolation=None)
    if conf is not None:
        parser.read_string(str(conf["data"]["odoo.conf"]))
    options = parser["options"] if parser.has_section("options") else {}
    host, port = options.get("smtp_server"), options.get("smtp_port")
    if not host or not port:
        raise PermanentError(f"{env.ref}: its configuration {namespace}/{base}-conf names no mail catcher "
                             "(smtp_server): a clone's copy would send real mail")
    return str(host), int(port)


def clone(ctx: Context, op: Operation, source: DesiredEnvironment, target: DesiredEnvironment, *,
          anonymize: bool, server: registry.ApiServer | None = None, context: str | None = None,
          kubeconfig: str | None = None, wait: float = 6 * 3600, interval: float = 2.0,
          now: dt.datetime | None = None, probe: Probe | None = None) -> RestoreResult:
    """``clone SOURCE TARGET`` on a kubernetes estate: a fresh backup of ``source`` by its Job
    (confirmed and recorded, kind ``clone-source``), then that snapshot restored into ``target`` by
    the restore's Jobs, the copy given ``target``'s identity, Odoo's own ``neutralize`` (16+), the
    platform's guarantees (its mail to ``target``'s catcher), anonymized when asked or when the
    tenant is regulated, every guarantee proven — all before anything of ``target`` is touched."""
    clones.check_pair(source, target)
    connected = connect(ctx.valid.path, "clones.create", context=context, kubeconfig=kubeconfig, server=server)
    preflight(ctx, connected, target, source)  # before the source's backup: refused, nothing was done
    host, port = _catcher(connected, target)
    salt = clones.anonymize_salt(ctx, target) if anonymize or clones.must_anonymize(target) else None
    major = target.stack.major
    neutralization = Neutralization(smtp_host=host, smtp_port=port, series_major=major, odoo_neutralize=major >= 16,
                                    anonymize_salt=salt)
    repo = backing.chosen_repository(ctx, source, None)
    at = now or ctx.clock.now()
    made = backing.backup_env(ctx, connected, op, source, kind="clone-source", repos=[repo.name], wait=wait,
                              interval=interval, now=at)
    return restore_env(ctx, connected, op, target, repository=repo.name, snapshot=made.snapshots[repo.name],
                       at=None, unconfirmed=False, wait=wait, interval=interval, now=at, probe=probe, source=source,
                       neutralization=neutralization, kind="clone")
