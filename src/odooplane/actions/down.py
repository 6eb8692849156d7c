"""``down``: stop every process of the estate; ``--purge`` also drops databases, roles,
filestores, managed clusters and stored secrets (the journal and audit log are kept)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.estate.models import ManagedCluster
from odooplane.operations import provision
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.services import postgres
from odooplane.store import ports


@dataclass
class DownResult:
    operation_id: int
    stopped: bool
    purged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run(path: Path | None, *, purge: bool = False) -> DownResult:
    ctx = estate_file.context(path)
    try:
        with Operation(ctx.store, kind="down", target=f"estate {ctx.estate.platform.name}", actor=ctx.actor) as op:
            result = DownResult(operation_id=op.op_id, stopped=True)
            if purge:
                _purge_data(ctx, op, result)
            op.step("stop", "runtime", ctx.driver.shutdown)
            if purge:
                for name, cluster in ctx.estate.clusters.items():
                    if isinstance(cluster, ManagedCluster):
                        root = ctx.cluster_root(name).root
                        op.step("remove-cluster", f"cluster {name}", partial(_remove_tree, root))
                        from odooplane.services import pgbackrest

                        pitr_root = pgbackrest.pitr_dir(ctx.layout.root, estate_id=ctx.estate_id, name=name)
                        op.step("remove-pitr", f"cluster {name}", partial(_remove_tree, pitr_root))
                        ports.release(ctx.store, owner=f"cluster/{name}")
                        ctx.secrets.delete_prefix(f"cluster/{name}/")
                        result.purged.append(f"cluster {name}")
                subs = (ctx.layout.envs, ctx.layout.pools, ctx.layout.templates, ctx.layout.edge, ctx.layout.supervisor,
                        ctx.layout.locks)
                for sub in subs:
                    op.step("remove-directory", str(sub.name), partial(shutil.rmtree, sub, ignore_errors=True))
            return result
    finally:
        ctx.close()


def _purge_data(ctx: Context, op: Operation, result: DownResult) -> None:
    """Drop every database and role this estate owns on every reachable cluster (by marker)."""
    ctx.driver.prepare()  # managed clusters must be up to drop their databases
    for name in ctx.estate.clusters:
        try:
            conn = provision.ensure_cluster(ctx, op, name)
        except StepFailed as exc:
            result.failures.append(str(exc))
            continue
        # Stop Odoo first so nothing reconnects while we drop.
        for proc in ctx.driver.process_names():
            if proc.startswith(("odoo-", "pool-")):
                op.step("remove-process", proc, partial(ctx.driver.remove_process, proc))
        dbs, roles = postgres.owned_objects(conn, ctx.estate_id)
        for db, target in sorted(dbs.items()):
            op.step("drop-database", target, partial(postgres.drop_database, conn, db))
            result.purged.append(f"database {db}")
        for role, target in sorted(roles.items()):
            op.step("drop-role", target, partial(postgres.drop_role, conn, role))
            result.purged.append(f"role {role}")
    for env in ctx.valid.environments:
        ports.release(ctx.store, owner=f"env/{env.ref}")
        ctx.secrets.delete_prefix(f"env/{env.ref}/")
    for pool in ctx.valid.pools:
        ports.release(ctx.store, owner=f"pool/{pool.name}")
        ctx.secrets.delete_prefix(f"pool/{pool.name}/")
    ctx.secrets.delete_prefix("template/")


def _remove_tree(path: Path) -> None:
    """Remove ``path`` and then its parent if that is left empty (``clusters/``)."""
    shutil.rmtree(path, ignore_errors=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass
