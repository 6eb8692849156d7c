"""``promote`` on a kubernetes estate: a dedicated environment moved onto its new release (the
release's stack: its image) by Jobs in the cluster, rolling back by itself on any failure.

The same order as on the other drivers, with the cluster's objects:

1. The environment's Deployments scaled to 0 (downtime starts; no pod left).
2. ``snapshot-db`` (platform namespace, CloudNativePG's superuser Secret): ``<db>__preupgrade``
   made from ``<db>`` as a template (its connections refused meanwhile). ``snapshot-fs`` (the
   environment's namespace, its volume): ``filestore/<db>.preupgrade`` as hard links (Odoo never
   rewrites a stored file). A snapshot an interrupted upgrade left is put back first: whatever the
   database holds then may be half updated.
3. ``update``: Odoo itself in the **new** release's image, with the environment's configuration and
   volume: ``-u all`` (the control plane cannot hash the modules inside an image, so every
   installed module is updated) and ``-i`` of the declared modules, ``--stop-after-init``.
4. The environment's objects of the new release applied (server-side apply: its ConfigMap and
   Deployments on the new image), the Deployments scaled back and waited for until ready, Odoo's
   login page asked for the database until it answers 200.
5. On any failure: scaled to 0 again, ``rollback-db`` / ``rollback-fs`` put the snapshot back, the
   previous release's objects applied, scaled back, asked again; the upgrade is recorded
   ``rolled-back`` with the reason. Then (either way) ``finish-db`` / ``finish-fs`` drop the
   snapshot.

:func:`stage` is what the Jobs run (``odooplane kubernetes upgrade-stage TASK``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from psycopg import sql

from odooplane.actions import kubernetes_backup as backing
from odooplane.actions import kubernetes_restore as restoring_in
from odooplane.actions import kubernetes_verify as verifying_in
from odooplane.actions.kubernetes import Connected, talking
from odooplane.actions.kubernetes_ops import Probe, default_probe, placement
from odooplane.drivers import registry
from odooplane.errors import OdooplaneError, PermanentError, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.operations.upgrades import UpgradeResult
from odooplane.render import dockerfile
from odooplane.services import postgres
from odooplane.store import releases

SNAPSHOT = "__preupgrade"  # <db>__preupgrade, filestore/<db>.preupgrade
PARTS = ("snapshot-db", "snapshot-fs", "update", "rollback-db", "rollback-fs", "finish-db", "finish-fs")


# -- in the Jobs --------------------------------------------------------------------------------

def _names(task: dict[str, Any]) -> tuple[str, str]:
    database = backing.task_field(task, "database", str)
    return database, f"{database}{SNAPSHOT}"


def _put_back(admin: postgres.ClusterConn, database: str, snapshot: str) -> bool:
    """The snapshot in place of the database (True if there was one): both renames in one
    transaction (there is no moment without ``<db>`` a CloudNativePG ``Database`` could fill), then
    what the upgrade made of the database dropped."""
    if not postgres.database_exists(admin, snapshot):
        return False
    failed = f"{database}__failed"
    postgres.drop_database(admin, failed)
    live = postgres.database_exists(admin, database)
    if live:
        postgres.allow_connections(admin, database, False)  # and the open ones closed
    with postgres.connect(admin) as conn, conn.transaction():
        if live:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(database),
                                                                          sql.Identifier(failed)))
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(snapshot),
                                                                      sql.Identifier(database)))
    postgres.allow_connections(admin, database, True)
    postgres.drop_database(admin, failed)
    return True


def _leftover(task: dict[str, Any], exists: bool, what: str) -> bool:
    """What to do with a snapshot an earlier upgrade left (``task["left"]``, the control plane's
    reading of the release history): ``restore`` it (that upgrade stopped before the new release
    served: the database may be half updated), ``drop`` it (that upgrade or its rollback finished:
    the snapshot is stale), ``refuse`` (no upgrade recorded one). True: put it back."""
    if not exists:
        return False
    left = backing.task_field(task, "left", str)
    if left == "refuse":
        raise PermanentError(f"{what} exists but no upgrade of {task.get('target')} recorded it: look at it, then "
                             "remove it, before promoting again")
    return bool(left == "restore")


def _snapshot_database(task: dict[str, Any]) -> dict[str, Any]:
    admin = verifying_in.admin_conn(task)
    database, snapshot = _names(task)
    recovered = False
    if _leftover(task, postgres.database_exists(admin, snapshot), snapshot):
        recovered = _put_back(admin, database, snapshot)  # an interrupted upgrade's: start from it again
    postgres.drop_database(admin, snapshot)  # a stale one (or none)
    with postgres.connect(admin) as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", (database,)).fetchone()
    if row is None:
        raise PermanentError(f"{database} does not exist: nothing to upgrade")
    postgres.allow_connections(admin, database, False)  # a template must have no connection
    try:
        postgres.create_from_template(admin, database=snapshot, template=database, owner=str(row[0]),
                                      comment=str(row[1] or ""))
    finally:
        postgres.allow_connections(admin, database, True)
    return {"ok": True, "recovered": recovered}


def _filestores(task: dict[str, Any]) -> tuple[Path, Path]:
    """(live, snapshot) filestore directories: a snapshot exists under its name only once complete."""
    root = Path(backing.task_field(task, "data", str)) / "filestore"
    database = backing.task_field(task, "database", str)
    return root / database, root / f"{database}.preupgrade"


def _aside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove(path: Path) -> None:
    """Remove a directory for good: renamed aside first, so a half-removed one never keeps its name."""
    if path.is_dir():
        doomed = _aside(path, ".removing")
        shutil.rmtree(doomed, ignore_errors=True)
        path.rename(doomed)
        shutil.rmtree(doomed)


def _put_back_files(live: Path, snapshot: Path) -> bool:
    """The (complete) snapshot in place of the live filestore."""
    if not snapshot.is_dir():
        return False
    _remove(_aside(live, ".failed"))
    if live.is_dir():
        live.rename(_aside(live, ".failed"))
    snapshot.rename(live)
    _remove(_aside(live, ".failed"))
    return True


def _snapshot_filestore(task: dict[str, Any]) -> dict[str, Any]:
    live, snapshot = _filestores(task)
    recovered = False
    if _leftover(task, snapshot.is_dir(), str(snapshot)):
        recovered = _put_back_files(live, snapshot)
    _remove(snapshot)
    partial = _aside(snapshot, ".partial")  # built aside, named a snapshot only once complete
    shutil.rmtree(partial, ignore_errors=True)
    if live.is_dir():
        shutil.copytree(live, partial, copy_function=os.link)  # hard links: stored files are never rewritten
        partial.rename(snapshot)
    return {"ok": True, "recovered": recovered}


def _rollback_database(task: dict[str, Any]) -> dict[str, Any]:
    """The snapshot back in place; none (the upgrade stopped before it was taken): nothing to do."""
    database, snapshot = _names(task)
    return {"ok": True, "restored": _put_back(verifying_in.admin_conn(task), database, snapshot)}


def _rollback_filestore(task: dict[str, Any]) -> dict[str, Any]:
    _put_back_files(*_filestores(task))
    return {"ok": True}


def _finish_database(task: dict[str, Any]) -> dict[str, Any]:
    postgres.drop_database(verifying_in.admin_conn(task), _names(task)[1])
    return {"ok": True}


def _finish_filestore(task: dict[str, Any]) -> dict[str, Any]:
    snapshot = _filestores(task)[1]
    _remove(snapshot)
    shutil.rmtree(_aside(snapshot, ".partial"), ignore_errors=True)
    return {"ok": True}


def stage(task: dict[str, Any]) -> dict[str, Any]:
    """Run the upgrade step ``task["part"]`` names (one of :data:`PARTS` but ``update``, which is Odoo's)."""
    part = backing.task_field(task, "part", str)
    steps = {"snapshot-db": _snapshot_database, "snapshot-fs": _snapshot_filestore,
             "rollback-db": _rollback_database, "rollback-fs": _rollback_filestore,
             "finish-db": _finish_database, "finish-fs": _finish_filestore}
    if part not in steps:
        raise UsageError(f"upgrade task: part must be one of {', '.join(steps)}, not {part!r}")
    return steps[part](task)


# -- on the control plane -----------------------------------------------------------------------

def _command(task: dict[str, Any]) -> list[str]:
    return [dockerfile.CONTROL_PYTHON, "-m", "odooplane", "kubernetes", "upgrade-stage",
            json.dumps(task, sort_keys=True)]


def _own_objects(connected: Connected, env: DesiredEnvironment) -> list[dict[str, Any]]:
    """The environment's objects of the rendered tree (its namespace, its instance label)."""
    namespace, base = placement(connected, env)
    return [o for o in connected.objects if o["metadata"].get("namespace") == namespace
            and o["metadata"].get("labels", {}).get(registry.KUBERNETES_LABEL_INSTANCE) == base]


def _web(connected: Connected, env: DesiredEnvironment) -> dict[str, Any]:
    namespace, base = placement(connected, env)
    found = next((d for d in restoring_in.deployments(connected, env) if d["metadata"]["name"] == f"{base}-http"),
                 None)
    if found is None:
        raise PermanentError(f"{env.ref}: no web Deployment {namespace}/{base}-http is rendered for it")
    return found


ATTEMPT = "attempt"  # release history: an upgrade under way ("running"), or past serving ("serving")
EVENTS = (ATTEMPT, "upgrade", "rollback")


def leftover_rule(ctx: Context, env: DesiredEnvironment) -> str:
    """What a snapshot an earlier upgrade left means, from the release history: ``restore`` (that
    upgrade stopped before the new release served), ``drop`` (it served, or rolled back), or
    ``refuse`` (no upgrade of it is recorded)."""
    newest = releases.events(ctx.store, target=str(env.ref), kinds=EVENTS, limit=1)
    if not newest:
        return "refuse"
    return "restore" if newest[0].kind == ATTEMPT and newest[0].status == "running" else "drop"


def unfinished(ctx: Context, env: DesiredEnvironment) -> bool:
    """An upgrade of ``env`` stopped (killed, or its rollback failed) before it was recorded."""
    newest = releases.events(ctx.store, target=str(env.ref), kinds=EVENTS, limit=1)
    return bool(newest) and newest[0].kind == ATTEMPT


def preflight(ctx: Context, connected: Connected, env: DesiredEnvironment) -> None:
    """What refuses an upgrade of ``env`` before anything is changed (the estate file included)."""
    t = str(env.ref)
    if env.pool is not None:
        raise UsageError(f"{t} is in shared pool {env.pool}: releases run on dedicated environments")
    if env.cluster.kind != "managed":
        raise PermanentError(f"{t}: its cluster {env.cluster_name} is not managed by Odooplane: on kubernetes an "
                             "upgrade needs the managed (CloudNativePG) cluster's superuser Secret")
    verifying_in.require_superuser(connected, ctx.estate.platform.kubernetes.namespace, env.cluster_name)
    _web(connected, env)


def _jobs(ctx: Context, old: Connected, new: Connected, env: DesiredEnvironment, *,
          now: dt.datetime) -> dict[str, dict[str, Any]]:
    settings = ctx.estate.platform.kubernetes
    stamp = now.strftime("%Y%m%d%H%M%S")
    common = {"target": str(env.ref), "database": env.database, "left": leftover_rule(ctx, env)}
    platform = {"host": f"{env.cluster_name}-rw.{settings.namespace}.svc", "port": 5432,
                "superuser": registry.KUBERNETES_VERIFY.superuser}
    pod = {"data": registry.KUBERNETES_BACKUP.data}
    args = ["-c", registry.KUBERNETES_BACKUP.conf, "-d", env.database, "-u", "all"]
    if env.modules:
        args += ["-i", ",".join(env.modules)]
    args += ["--stop-after-init", "--workers=0", "--max-cron-threads=0", "--no-http"]
    jobs: dict[str, dict[str, Any]] = {}
    for part in PARTS:
        name, of = registry.kubernetes_backup_job_names(env.ref.tenant, env.ref.env, stamp, verb=part)
        if part == "update":  # Odoo itself, in the new release's image
            jobs[part] = registry.kubernetes_odoo_job(_web(new, env), name=name, of=of, target=str(env.ref),
                                                      args=args, component=part, deadline_s=6 * 3600)
        elif part.endswith("-db"):
            jobs[part] = registry.kubernetes_verify_job(
                name=name, of=of, namespace=settings.namespace, target=str(env.ref), image=settings.control_image,
                command=_command({**common, **platform, "part": part}), repository=None,
                superuser_secret=f"{env.cluster_name}-superuser", settings=settings, component=part)
        else:
            jobs[part] = registry.kubernetes_backup_job(
                _web(old, env), name=name, of=of, target=str(env.ref), image=settings.control_image,
                command=_command({**common, **pod, "part": part}), repositories=[], component=part, writable=True)
    return jobs


def upgrade(ctx: Context, op: Operation, env: DesiredEnvironment, *, old: Connected, new: Connected,
            wait: float = 6 * 3600, interval: float = 2.0, now: dt.datetime | None = None,
            probe: Probe | None = None) -> UpgradeResult:
    """Move ``env`` (as the estate now declares it: its new release) from what ``old`` rendered to
    what ``new`` renders; roll back by itself on any failure (module docstring)."""
    t = str(env.ref)
    preflight(ctx, new, env)
    previous = releases.applied(ctx.store, t)
    result = UpgradeResult(target=t, from_release=previous.release if previous else None, to_release=env.release,
                           status="unchanged", updated=["all"], installed=list(env.modules))
    jobs = _jobs(ctx, old, new, env, now=now or ctx.clock.now())
    before, after = restoring_in.deployments(old, env), restoring_in.deployments(new, env)
    namespace, base = placement(new, env)
    probe = probe or default_probe(new.api)
    started = time.monotonic()

    def run(part: str) -> dict[str, Any]:
        odoo = part == "update"
        return backing.run_job(new, jobs[part], wait=wait, interval=interval,
                               label_key=registry.kubernetes_job_label(part), container="odoo" if odoo else part,
                               printed=not odoo)

    def timed(name: str, action: Any) -> Any:
        t0 = time.monotonic()
        try:
            return op.step(name, t, action)
        finally:
            result.steps[name] = round(time.monotonic() - t0, 3)

    def put(objects: list[dict[str, Any]]) -> None:
        with talking("promote"):
            for obj in objects:
                new.api.apply(obj)

    def serve(connected: Connected, deployments: list[dict[str, Any]], objects: list[dict[str, Any]]) -> None:
        put(objects)
        restoring_in.scale(connected, deployments, up=True, wait=wait, interval=interval)
        restoring_in.serves(probe, namespace, f"{base}-http", env.database, wait=min(wait, 300), interval=interval)

    with locks.hold(ctx.store, f"env-{env.ref.slug}", wait=60, what=t, op=op):
        restoring_in.settle_earlier_jobs(new, jobs, wait=wait, interval=interval)
        # Recorded first: a run killed from here on is resumed by the next (its snapshot is put back).
        releases.add(ctx.store, target=t, kind=ATTEMPT, status="running", actor=ctx.actor, release=env.release,
                     from_release=result.from_release, operation_id=op.op_id)
        down_at = time.monotonic()
        stopping = before + [d for d in after if d["metadata"]["name"] not in {b["metadata"]["name"] for b in before}]
        taken: set[str] = set()  # the snapshots this run took: only those are put back, or dropped

        def snapshot(part: str) -> None:
            timed(part, lambda: run(part))
            taken.add(part.removeprefix("snapshot-"))

        try:
            timed("stop", lambda: restoring_in.scale(old, before, up=False, wait=wait, interval=interval))
            snapshot("snapshot-db")
            snapshot("snapshot-fs")
            # The new release's configuration first: Odoo's update reads it (addons path, server-wide modules).
            timed("config", lambda: put([o for o in _own_objects(new, env) if o["kind"] == "ConfigMap"]))
            timed("update", lambda: run("update"))
            timed("start", lambda: serve(new, after, _own_objects(new, env)))
            # It serves the new release now: a snapshot left from here on is stale, never put back.
            releases.add(ctx.store, target=t, kind=ATTEMPT, status="serving", actor=ctx.actor, release=env.release,
                         from_release=result.from_release, operation_id=op.op_id)
        except (StepFailed, OdooplaneError) as exc:
            result.error = exc.message if isinstance(exc, OdooplaneError) else str(exc)
            timed("rollback-stop", lambda: restoring_in.scale(new, stopping, up=False, wait=wait, interval=interval))
            for what in ("db", "fs"):
                if what in taken:
                    timed(f"rollback-{what}", lambda what=what: run(f"rollback-{what}"))
            timed("rollback-start", lambda: serve(old, before, _own_objects(old, env)))
            result.status = "rolled-back"
        else:
            result.status = "upgraded"
        result.downtime_s = round(time.monotonic() - down_at, 3)
        result.duration_s = round(time.monotonic() - started, 3)
        ok = result.status == "upgraded"
        # Recorded before the snapshot goes: a snapshot left after this is stale, never put back.
        result.event_id = releases.add(
            ctx.store, target=t, kind="upgrade" if ok else "rollback", status="ok" if ok else "rolled-back",
            actor=ctx.actor, release=env.release, from_release=result.from_release, duration_s=result.duration_s,
            downtime_s=result.downtime_s, operation_id=op.op_id,
            detail={"modules": {}, "updated": result.updated, "installed": result.installed, "steps": result.steps,
                    "error": result.error, "driver": "kubernetes", "image": str(_web(new if ok else old, env)[
                        "spec"]["template"]["spec"]["containers"][0]["image"])})
        for what in ("db", "fs"):
            if what in taken:
                timed(f"finish-{what}", lambda what=what: run(f"finish-{what}"))
    return result
