"""Restoring an environment from a backup — into a new environment, or in place. Either way the
backup is loaded into a temporary database first and checked; the running environment is only
touched (a rename swap of database and filestore, then a restart) once the copy has verified."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from odooplane import faults
from odooplane.drivers.base import FilestoreRef
from odooplane.errors import PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import locks, provision, repositories, sandbox, temporaries
from odooplane.operations.context import Context
from odooplane.operations.desired import EnvArtifacts, artifacts
from odooplane.operations.runner import Operation
from odooplane.operations.verify import find_snapshot
from odooplane.services import postgres
from odooplane.store import evidence


@dataclass
class RestoreResult:
    source: str
    target: str
    snapshot: str
    repository: str
    in_place: bool
    rto_s: float = 0.0
    checks: dict[str, object] = field(default_factory=dict)


def load_into_temporary(
    ctx: Context, op: Operation, art: EnvArtifacts, restored: sandbox.Restored, *, temp: str, reset_identity: bool,
    filestore_verdict: Callable[[], sandbox.Checks] | None = None,
) -> sandbox.Checks:
    """Load ``restored`` into database ``temp`` owned by the target's role and check it; the
    filestore is staged beside the target's as ``<db>.restore`` (once ``filestore_verdict``, the
    check of its files against the manifest running meanwhile, says they match)."""
    env = art.env
    t = str(env.ref)
    if env.pool is None:
        op.step("role", t, lambda: postgres.ensure_role(art.cluster, role=env.role, password=art.db_password,
                                                        comment=postgres.marker(ctx.estate_id, t)))
    postgres.drop_database(art.cluster, temp)
    op.step("database", t, lambda: temporaries.create_database(
        ctx, art.cluster, database=temp, owner=env.role, target=t, operation_id=op.op_id, extensions=False,
        comment=postgres.marker(ctx.estate_id, f"restore/{env.ref}")), detail=temp)
    op.step("pg_restore", t, lambda: sandbox.load_dump(ctx.driver.databases, art.cluster, restored, database=temp,
                                                       role=env.role, password=art.db_password))
    if filestore_verdict is not None:
        found = filestore_verdict()
        if not found.ok:
            raise PermanentError("; ".join(found.failures))
    staged = staged_filestore(art)
    ctx.driver.storage.load(restored.root / "filestore", staged)
    as_owner = replace(art.cluster, user=env.role, password=art.db_password)  # nothing in the copy runs as the admin
    checks = op.step("checks", t, lambda: sandbox.check_database(ctx.driver.storage, as_owner, temp, restored,
                                                                 staged))
    if not checks.ok:
        raise PermanentError("the restored copy does not verify: " + "; ".join(checks.failures))
    if reset_identity:  # a copy of another environment gets the target's own identity
        op.step("identity", t, lambda: provision.reset_identity(art, database=temp))
    return checks


Fetch = Callable[[Path], sandbox.Restored]


def restore(ctx: Context, op: Operation, *, source: DesiredEnvironment, target: DesiredEnvironment,
            repository: str | None = None, snapshot: str | None = None, at: dt.datetime | None = None,
            pitr: bool = False, unconfirmed: bool = False) -> RestoreResult:
    """Restore ``source`` into ``target`` (the same environment: in place) from its newest backup
    (at or before ``at``), a given snapshot, or — with ``pitr`` — its cluster's WAL archive at ``at``."""
    if pitr:
        return _restore(ctx, op, source=source, target=target, label="pitr", repository="pgbackrest",
                        fetch=lambda into: fetch_pitr(ctx, op, source, at=at, into=into), at=at)
    repo_name = repository or (repositories.targets(ctx, source) or ["local"])[0]
    repo = repositories.repository(ctx, repo_name, tenant=source.ref.tenant)
    snap = find_snapshot(ctx, source, repo, snapshot=snapshot, at=at, unconfirmed=unconfirmed)
    return _restore(ctx, op, source=source, target=target, label=snap.short_id, repository=repo_name,
                    fetch=lambda into: sandbox.fetch(repo, snap, into), at=snap.time)


def fetch_pitr(ctx: Context, op: Operation, source: DesiredEnvironment, *, at: dt.datetime | None,
               into: Path) -> sandbox.Restored:
    """The source database as it was at ``at`` (from a scratch copy of its cluster restored by
    pgBackRest), with the live filestore (its files are content-addressed and never rewritten)."""
    from odooplane.operations import backups, pitr

    conn = ctx.cluster_conn(source.cluster_name, allocate=False)
    if conn is None:
        raise PermanentError(f"cluster {source.cluster_name} is not provisioned")
    scratch_dir = ctx.driver.pitr.scratch_dir(pitr.spec(ctx, source.cluster_name, conn), into.name)
    # Registered first: a kill leaves a running scratch cluster the next run stops and removes.
    scratch_id = temporaries.register_directory(ctx, scratch_dir, target=str(source.ref), purpose="pitr",
                                                operation_id=op.op_id)
    copy, point = pitr.scratch(ctx, source.cluster_name, conn, at=at, scratch_name=into.name)
    faults.point("pitr:scratch-running")
    try:
        stage = into / "stage"
        scratch_conn = copy.conn()
        source_art = artifacts(ctx, source, create=False)
        assert source_art is not None
        facts = backups.dump(ctx, replace(source_art, cluster=scratch_conn), stage / "dump")
        # The attachments of the database as it was then (a stateless one's from its bucket).
        backups.export_filestore(ctx, None, replace(source_art, cluster=scratch_conn), stage / "filestore")
    finally:
        copy.stop(remove=True)
        temporaries.release(ctx, scratch_id)
    manifest = {**facts, "pitr": {"requested": at.isoformat() if at else None,
                                  "newest_restorable": point.newest_restorable.isoformat()
                                  if point.newest_restorable else None}}
    return sandbox.Restored(stage, manifest, f"pitr@{(at or point.newest_restorable or ctx.clock.now()).isoformat()}",
                            "pgbackrest")


AfterLoad = Callable[[EnvArtifacts, str], dict[str, object]]


def _restore(ctx: Context, op: Operation, *, source: DesiredEnvironment, target: DesiredEnvironment, label: str,
             repository: str, fetch: Fetch, at: dt.datetime | None, after_load: AfterLoad | None = None,
             kind: str = "restore") -> RestoreResult:
    """Load, check, (``after_load``: change and prove the temporary copy — a clone's neutralization),
    swap, restart, check through the edge. Nothing running is touched before the swap; a copy that
    fails before it is dropped."""
    t = str(target.ref)
    started = ctx.clock.monotonic()
    work = ctx.layout.sandbox(f"{kind}-{target.ref.slug}-{secrets.token_hex(3)}")
    with locks.hold(ctx.store, temporaries.lock_name(t), wait=60, what=t, op=op):
        temporaries.clean_up(ctx, target=t, held=True)  # what a killed restore/clone of it left
        art = op.step("prepare", t, lambda: artifacts(ctx, target, create=True))
        assert art is not None
        in_place = postgres.database_exists(art.cluster, target.database)
        temp = temp_database(target)
        with temporaries.directory(ctx, work, target=t, purpose=kind, operation_id=op.op_id):
            restored = op.step("fetch", t, lambda: fetch(work), detail=label)
            verdict = sandbox.check_artifacts(restored, "database")  # what goes into PostgreSQL, first
            if not verdict.ok:
                raise PermanentError("; ".join(verdict.failures))
            ids = [temporaries.register_database(ctx, art.cluster, temp, target=t, purpose=kind,
                                                 operation_id=op.op_id),
                   temporaries.register_filestore(ctx, staged_filestore(art), target=t, purpose=kind,
                                                  operation_id=op.op_id)]
            try:
                with sandbox.filestore_checked_meanwhile(restored) as filestore_verdict:
                    checks = load_into_temporary(ctx, op, art, restored, temp=temp,
                                                 reset_identity=source.ref != target.ref,
                                                 filestore_verdict=filestore_verdict)
                if after_load is not None:
                    checks.details.update(after_load(art, temp))
                swap(ctx, op, art, temp, in_place=in_place)
            except BaseException:
                # The copy never went in place (or the swap is finished forward): nothing of it stays.
                temporaries.clean_up(ctx, target=t, held=True, operation_id=op.op_id)
                raise
            for temp_id in ids:
                temporaries.release(ctx, temp_id)
    result = RestoreResult(source=str(source.ref), target=t, snapshot=restored.snapshot, repository=repository,
                           in_place=in_place, checks=checks.details)
    provision.mark_ready(ctx, art)
    # Bring the target up as the estate says (a new environment gets its process and route here).
    from odooplane.operations import observe

    observed, _ = observe.observe(ctx)
    obs = observed.envs[target.ref]
    if art.process is not None and in_place:
        op.step("restart", t, lambda: provision.start_process(ctx, art.process, restart=True))  # type: ignore[arg-type]
    provision.ensure_env(ctx, op, target, obs)
    if art.process is not None:
        op.step("health", t, lambda: provision.wait_healthy(ctx, art.process))  # type: ignore[arg-type]
    op.step("edge-check", t, lambda: provision.check_through_edge(ctx, art), attempts=20)
    result.rto_s = round(ctx.clock.monotonic() - started, 2)
    pitr_info = restored.manifest.get("pitr")
    if isinstance(pitr_info, dict):
        result.checks["pitr"] = pitr_info
    evidence.add(ctx.store, kind=kind, target=t, ok=True, operation_id=op.op_id, data={
        "source": result.source, "snapshot": restored.snapshot, "point": at.isoformat() if at else None,
        "repository": repository, "in_place": in_place, "rto_s": result.rto_s, **result.checks},
        summary=f"{t}: {'restored' if kind == 'restore' else kind + 'd'} from {result.source} {restored.snapshot} "
                f"({'in place' if in_place else 'new'}) in {result.rto_s:.1f} s")
    return result


def temp_database(env: DesiredEnvironment) -> str:
    """The temporary database a restore, clone or import of ``env`` loads into."""
    return f"{env.database}__restore"


def staged_filestore(art: EnvArtifacts) -> FilestoreRef:
    """Where the restored filestore waits beside the live one until the swap."""
    return art.filestore_ref.sibling(temporaries.STAGED)


def swap(ctx: Context, op: Operation, art: EnvArtifacts, temp: str, *, in_place: bool) -> None:
    """Put the verified copy in place as a registered swap: databases and filestores swap by
    rename and the old ones go; a kill at any point is finished forward (or undone, before the
    database rename) by the next run."""
    env = art.env
    plan = temporaries.Swap(
        cluster=art.cluster.name, database=env.database, temp=temp, old_db=f"{env.database}__old",
        storage=art.storage, in_place=in_place, marker=postgres.marker(ctx.estate_id, str(env.ref)))
    assert plan.live == art.filestore_ref
    swap_id = temporaries.begin_swap(ctx, plan, target=str(env.ref), operation_id=op.op_id)
    op.step("swap", str(env.ref), lambda: temporaries.run_swap(art.cluster, ctx.driver.storage, plan))
    temporaries.release(ctx, swap_id)

