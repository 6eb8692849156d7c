"""Moving an environment between placements (a shared pool ↔ dedicated processes, or another
pool) on the same cluster: copy the database and filestore under the new owner, switch the route,
and remove the old copy only after the new one answers. The downtime is measured."""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass

from odooplane import faults
from odooplane.drivers.base import FilestoreRef
from odooplane.errors import PermanentError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import backups, locks, provision, temporaries
from odooplane.operations.context import Context
from odooplane.operations.desired import (
    CREATING,
    AttachmentBucket,
    EnvArtifacts,
    artifacts,
    attachment_bucket,
    bucket_of,
    program_name,
)
from odooplane.operations.observe import moves_name
from odooplane.operations.runner import Operation, StepFailed
from odooplane.planner.observed import EnvObservation
from odooplane.services import odoo_db, postgres


@dataclass(frozen=True)
class MoveResult:
    target: str
    source: str  # the role that owned the database
    destination: str
    downtime_s: float


def _old_location(env: DesiredEnvironment, old_owner: str, pools: dict[str, str]) -> tuple[str | None, FilestoreRef]:
    """(pool name or None for dedicated, filestore) of where the database lives now; ``pools``:
    the pool of each pool role."""
    name = pools.get(old_owner) or (old_owner.removeprefix("pool_") if old_owner.startswith("pool_") else None)
    if name is not None:
        return name, FilestoreRef(f"pool-{name}", env.database)
    return None, FilestoreRef(f"env-{env.ref.slug}", env.database)


def move_env(ctx: Context, op: Operation, env: DesiredEnvironment, obs: EnvObservation) -> MoveResult:
    """Move ``env`` to its desired placement; on failure before the switch, put everything back."""
    t = str(env.ref)
    # Resuming an interrupted move: the role owning <db>__moving (the original) is where it came from.
    old_owner = obs.moving_from or obs.owner
    if old_owner is None:
        raise PermanentError(f"{t}: nothing to move (its database is missing)")
    old_pool, old_filestore = _old_location(env, old_owner, {pool.role: pool.name for pool in ctx.valid.pools})
    with locks.hold(ctx.store, f"env-{env.ref.slug}", wait=5, what=t, op=op):
        art = op.step("prepare", t, lambda: artifacts(ctx, env, create=True))
        assert art is not None
        comment = postgres.marker(ctx.estate_id, t)
        if env.pool is None:
            op.step("role", t, lambda: postgres.ensure_role(art.cluster, role=env.role, password=art.db_password,
                                                            comment=comment))
            op.step("config", t, lambda: provision._write_conf(ctx, art))
        moving = moves_name(env.database)
        started = time.monotonic()
        switched = False
        try:
            if obs.moving_from is None:
                op.step("block", t, lambda: postgres.allow_connections(art.cluster, env.database, False))
            op.step("copy", t, lambda: _copy(ctx, op, art, moving=moving, old_owner=old_owner,
                                             old_filestore=old_filestore))
            if art.process is not None:
                proc = art.process
                op.step("process", t, lambda: provision.start_process(ctx, proc, restart=True))
                op.step("health", t, lambda: provision.wait_healthy(ctx, proc))
            else:
                first = provision._pool_first_process(ctx, env)
                op.step("health", t, lambda: provision.wait_healthy(ctx, first, database=env.database))

            def switch() -> None:
                ctx.driver.ensure_route(art.route)
                ctx.driver.wait_route_served(art.route.name, timeout=provision.ROUTE_TIMEOUT_S)

            op.step("switch-route", t, switch)
            op.step("edge-check", t, lambda: provision.check_through_edge(ctx, art), attempts=20)
            switched = True
        except StepFailed:
            if not switched:
                op.step("move-rollback", t, lambda: _rollback(ctx, art, moving, old_pool))
            raise
        downtime = time.monotonic() - started
        # Complete before the original goes: from here on the copy is the environment's data.
        provision.mark_ready(ctx, art)
        op.step("cleanup", t, lambda: _cleanup(ctx, op, art, moving=moving, old_pool=old_pool,
                                                        old_filestore=old_filestore))
        op.step("limits", t, lambda: provision._limits(art))
    return MoveResult(target=t, source=old_owner, destination=env.placement, downtime_s=round(downtime, 3))


def _copy(ctx: Context, op: Operation, art: EnvArtifacts, *, moving: str, old_owner: str,
          old_filestore: FilestoreRef) -> None:
    env = art.env
    if postgres.database_exists(art.cluster, moving):
        # A previous attempt was interrupted after the rename: the moving copy is the original.
        postgres.drop_database(art.cluster, env.database)
    else:
        postgres.rename_database(art.cluster, env.database, moving)
    faults.point("move:original-renamed")
    # Marked "creating" while the original exists: until the move is finished, the copy is disposable.
    temporaries.create_database(ctx, art.cluster, database=env.database, template=moving, owner=env.role,
                                comment=postgres.marker(ctx.estate_id, str(env.ref), state=CREATING),
                                target=str(env.ref), operation_id=op.op_id)
    faults.point("move:copied")
    odoo_db.take_ownership(art.cluster, env.database, from_role=old_owner, to_role=env.role)
    faults.point("move:owned")
    if old_filestore != art.filestore_ref:
        ctx.driver.storage.copy(old_filestore, art.filestore_ref)
        old_bucket = _old_bucket(ctx, env, old_filestore)
        if old_bucket is not None and old_bucket != attachment_bucket(ctx, env):
            _carry_bucket(ctx, art, old_bucket)


def _old_bucket(ctx: Context, env: DesiredEnvironment, old_filestore: FilestoreRef) -> AttachmentBucket | None:
    """Where the environment's attachments were kept in its old placement (a pool's prefix, or its own)."""
    if old_filestore.storage.startswith("pool-"):  # the pool's data_dir and prefix: pool-<name>
        pool = ctx.valid.pool(old_filestore.storage.removeprefix("pool-"))
        setting = pool.stateless if pool is not None else None
        slug = old_filestore.storage
    else:  # its own: data_dir env-<slug>, prefix <slug>
        own = ctx.estate.tenants[env.ref.tenant].environments[env.ref.env]
        setting = own.stateless or ctx.estate.stacks[env.stack_name].stateless
        slug = env.ref.slug
    if setting is None or not setting.attachments:
        return None
    return bucket_of(ctx, setting.attachments, slug=slug)


def _carry_bucket(ctx: Context, art: EnvArtifacts, old: AttachmentBucket) -> None:
    """The attachments kept under the old placement's prefix, put into the moved filestore (the new
    placement reads its own prefix, then the filestore)."""
    work = ctx.layout.sandbox(f"move-{art.env.ref.slug}-{secrets.token_hex(3)}")
    try:
        ctx.driver.storage.export(art.filestore_ref, work / "filestore")
        backups.fetch_attachments(ctx, art, old, work / "filestore")
        ctx.driver.storage.load(work / "filestore", art.filestore_ref)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rollback(ctx: Context, art: EnvArtifacts, moving: str, old_pool: str | None) -> None:
    env = art.env
    if postgres.database_exists(art.cluster, moving):
        postgres.drop_database(art.cluster, env.database)
        postgres.rename_database(art.cluster, moving, env.database)
    postgres.allow_connections(art.cluster, env.database, True)
    if art.process is not None and old_pool is not None:
        ctx.driver.remove_workload(program_name(art.slug))


def _cleanup(ctx: Context, op: Operation, art: EnvArtifacts, *, moving: str, old_pool: str | None,
             old_filestore: FilestoreRef) -> None:
    """Drop the original and what served it. Everything to remove is registered first, so a kill
    in between leaves leftovers the next run removes — never an orphan to prune by hand."""
    t = str(art.env.ref)
    was_dedicated = old_pool is None and art.process is None
    stale: list[int] = []
    if old_filestore != art.filestore_ref:
        stale.append(temporaries.register_filestore(ctx, old_filestore, target=t, purpose="move",
                                                    operation_id=op.op_id))
    if was_dedicated:  # its process, configuration and role go
        stale.append(temporaries.register_directory(ctx, ctx.layout.env_dir(art.slug), target=t, purpose="move",
                                                    operation_id=op.op_id))
        stale.append(temporaries.register_role(ctx, art.cluster, art.env.ref.role, target=t, purpose="move",
                                               operation_id=op.op_id))
    postgres.drop_database(art.cluster, moving)
    faults.point("move:original-dropped")
    if was_dedicated:
        ctx.driver.remove_workload(program_name(art.slug))
        ctx.driver.storage.remove_storage(f"env-{art.slug}")  # its data_dir: filestore and sessions
        shutil.rmtree(ctx.layout.env_dir(art.slug), ignore_errors=True)  # its configuration
        postgres.drop_role(art.cluster, art.env.ref.role)
    if old_filestore != art.filestore_ref:
        ctx.driver.storage.remove(old_filestore)
    for temp_id in stale:
        temporaries.release(ctx, temp_id)


def check_movable(obs: EnvObservation) -> None:
    if not obs.database_exists or not obs.base_installed:
        raise PermanentError(f"{obs.ref}: nothing to move (the database is not provisioned)")
