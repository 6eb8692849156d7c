"""Upgrading an environment to another release, and rolling back by itself.

Under the environment's lock: stop its Odoo (downtime starts), snapshot the database (a template
copy on the same cluster) and the filestore (hard links: Odoo never rewrites a stored file), write
the new release's odoo.conf, update only the installed modules whose content changed
(``-u … --stop-after-init``; a hash per addon directory, like click-odoo-update), install the
declared modules not installed yet (``-i``, on the new code), start, check
``/web/login`` through the edge. Any failure: the snapshot and the previous odoo.conf come back, Odoo
starts on them and is checked again — then the failure is reported. Every step's duration and the
downtime are recorded in the release history.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from odooplane.drivers.base import FilestoreRef, OdooCommand, OdooWorkload
from odooplane.errors import OdooplaneError, PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks, provision
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, OdooProcess, artifacts
from odooplane.operations.release_content import attempt_fingerprint, module_hashes
from odooplane.operations.runner import Operation, StepFailed
from odooplane.services import odoo, postgres
from odooplane.services.postgres import ClusterConn
from odooplane.store import releases


def installed_modules(cluster: ClusterConn, database: str) -> list[str]:
    states = postgres.module_states(cluster, database) or {}
    return sorted(m for m, s in states.items() if s == "installed")


def record_install(ctx: Context, env: DesiredEnvironment, *, operation_id: int | None) -> None:
    """After a new environment on a release was created: what it runs now."""
    art = artifacts(ctx, env, create=False)
    if art is None or env.release is None:
        return
    modules = module_hashes(art.runtime, installed_modules(art.cluster, env.database))
    releases.add(ctx.store, target=str(env.ref), kind="install", status="ok", actor=ctx.actor, release=env.release,
                 operation_id=operation_id, detail={"modules": modules})


@dataclass
class UpgradeResult:
    target: str
    from_release: str | None
    to_release: str | None
    status: str  # upgraded | rolled-back | unchanged
    updated: list[str] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)  # declared with the release, installed by the upgrade
    downtime_s: float = 0.0
    duration_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    event_id: int | None = None


def upgrade_env(ctx: Context, op: Operation, env: DesiredEnvironment, *, kind: str = "upgrade") -> UpgradeResult:
    """Bring ``env`` onto its declared release — the changed modules updated, the declared modules
    not installed yet installed, on the new code — and roll back by itself on any failure."""
    t = str(env.ref)
    previous = releases.applied(ctx.store, t)
    result = UpgradeResult(target=t, from_release=previous.release if previous else None, to_release=env.release,
                           status="unchanged")
    old_hashes: dict[str, str] = dict(previous.detail.get("modules", {})) if previous else {}
    content = attempt_fingerprint(ctx, env)  # a failed attempt is retried by apply only once this changes
    started = time.monotonic()
    with locks.hold(ctx.store, f"env-{env.ref.slug}", wait=60, what=t, op=op):
        art = op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
        assert art is not None and art.process is not None, "upgrades run on dedicated environments"
        proc = art.process
        installed = installed_modules(art.cluster, env.database)
        if not installed:
            raise PermanentError(f"{t} has no installed modules: create it first (apply)")
        new_hashes = module_hashes(art.runtime, installed)
        # Unknown previous hashes (the first recorded upgrade): update everything installed.
        result.updated = [m for m in installed if not old_hashes or new_hashes.get(m) != old_hashes.get(m)]
        result.installed = [m for m in env.modules if m not in installed]
        before = _workload_of_release(ctx, env, result.from_release)
        snapshot = f"{env.database}__preupgrade"
        files = art.filestore_ref.sibling(".preupgrade")

        def timed(name: str, action: object) -> object:
            t0 = time.monotonic()
            try:
                return op.step(name, t, action)  # type: ignore[arg-type]
            finally:
                result.steps[name] = round(time.monotonic() - t0, 3)

        if postgres.database_exists(art.cluster, snapshot):
            # A previous upgrade was interrupted (kill -9, power loss) after its snapshot: whatever the
            # database holds now may be half-updated — go back to the snapshot, then upgrade from it.
            timed("recover", lambda: _restore_snapshot(ctx, art, snapshot, files))
            installed = installed_modules(art.cluster, env.database)
            new_hashes = module_hashes(art.runtime, installed)
            result.updated = [m for m in installed if not old_hashes or new_hashes.get(m) != old_hashes.get(m)]
            result.installed = [m for m in env.modules if m not in installed]
        down_at = time.monotonic()
        try:
            timed("stop", lambda: ctx.driver.remove_workload(proc.name))
            timed("snapshot", lambda: _snapshot(ctx, art, snapshot, files))
            timed("config", lambda: provision._write_conf(ctx, art))
            if result.updated:
                timed("update", lambda: _update(ctx, art, result.updated))
            if result.installed:
                timed("install", lambda: provision._install(ctx, art, result.installed))
            timed("start", lambda: provision.start_process(ctx, proc, restart=True))
            timed("health", lambda: provision.wait_healthy(ctx, proc))
            timed("edge-check", lambda: provision.check_through_edge(ctx, art))
        except (StepFailed, OdooplaneError) as exc:
            result.error = exc.message if isinstance(exc, OdooplaneError) else str(exc)
            timed("rollback", lambda: _rollback(ctx, art, snapshot, files, before))
            result.downtime_s = round(time.monotonic() - down_at, 3)
            result.status = "rolled-back"
        else:
            result.downtime_s = round(time.monotonic() - down_at, 3)
            result.status = "upgraded"
            provision.mark_ready(ctx, art)
            # What it runs now, read back: the modules the upgrade installed are part of it.
            new_hashes = module_hashes(art.runtime, installed_modules(art.cluster, env.database))
        finally:
            postgres.drop_database(art.cluster, snapshot)
            ctx.driver.storage.remove(files)
    result.duration_s = round(time.monotonic() - started, 3)
    ok = result.status == "upgraded"
    result.event_id = releases.add(
        ctx.store, target=t, kind=kind if ok else "rollback", status="ok" if ok else "rolled-back", actor=ctx.actor,
        release=env.release, from_release=result.from_release, duration_s=result.duration_s,
        downtime_s=result.downtime_s, operation_id=op.op_id,
        detail={"modules": new_hashes if ok else old_hashes, "updated": result.updated,
                "installed": result.installed, "steps": result.steps, "error": result.error, "content": content})
    return result


def _workload_of_release(ctx: Context, env: DesiredEnvironment, release: str | None) -> OdooWorkload | None:
    """The workload ``env`` ran on ``release`` (None: on its stack without a release), to go back to."""
    known = ctx.estate.releases.get(release) if release else None
    base = ctx.estate.stacks.get(known.stack if known else env.stack_name)
    if base is None:
        return None
    stack = base.model_copy(update={"addons_paths": [*known.addons, *base.addons_paths]}) if known else base
    before = artifacts(ctx, dataclasses.replace(env, release=release, stack=stack,
                                                stack_name=known.stack if known else env.stack_name), create=False)
    return before.process.workload if before is not None and before.process is not None else None


def _snapshot(ctx: Context, art: EnvArtifacts, snapshot: str, files: FilestoreRef) -> None:
    env = art.env
    postgres.drop_database(art.cluster, snapshot)
    postgres.allow_connections(art.cluster, env.database, False)  # probes and crons must not hold it open
    try:
        postgres.create_from_template(art.cluster, database=snapshot, template=env.database, owner=env.role,
                                      comment=postgres.marker(ctx.estate_id, f"snapshot/{env.ref}"))
    finally:
        postgres.allow_connections(art.cluster, env.database, True)
    storage = ctx.driver.storage
    storage.remove(files)
    if storage.exists(art.filestore_ref):
        storage.copy(art.filestore_ref, files)  # hard links where it can: Odoo never rewrites a stored file


def _update(ctx: Context, art: EnvArtifacts, modules: list[str]) -> None:
    ctx.driver.run_odoo(OdooCommand(
        workload=art.runner, args=tuple(odoo.update_args(database=art.env.database, modules=modules)),
        what="Odoo update", log_name="update", log_scope=art.slug, secrets=(art.db_password,)))


def _rollback(ctx: Context, art: EnvArtifacts, snapshot: str, files: FilestoreRef,
              before: OdooWorkload | None) -> None:
    """Previous code and data back, then Odoo started and checked on them."""
    proc = art.process
    assert proc is not None
    _restore_snapshot(ctx, art, snapshot, files)
    previous = OdooProcess(before) if before is not None else proc
    provision.start_process(ctx, previous, restart=True)
    provision.wait_healthy(ctx, previous)
    provision.check_through_edge(ctx, art)


def _restore_snapshot(ctx: Context, art: EnvArtifacts, snapshot: str, files: FilestoreRef) -> None:
    """The snapshot's database and filestore in place of the current ones (Odoo stopped first)."""
    env = art.env
    assert art.process is not None
    ctx.driver.remove_workload(art.process.name)
    if postgres.database_exists(art.cluster, snapshot):
        postgres.drop_database(art.cluster, env.database)
        postgres.rename_database(art.cluster, snapshot, env.database)
        postgres.set_comment(art.cluster, env.database, postgres.marker(ctx.estate_id, str(env.ref)))
        provision.mark_ready(ctx, art)
    storage = ctx.driver.storage
    if storage.exists(files):
        storage.remove(art.filestore_ref)
        storage.move(files, art.filestore_ref)
