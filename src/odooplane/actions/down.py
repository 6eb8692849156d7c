"""``down``: stop every process of the estate; ``--purge`` also drops databases, roles, managed
clusters, stored secrets and every plaintext copy of tenant data under the data directory.

What ``--purge`` keeps (docs/backups.md, "What down --purge keeps"): the state database (journal,
audit log, evidence), ``secret.key``, the logs, and the encrypted backup repositories — with the
repository passwords, which are in the state database, so that the backups can still be restored.

A purge never drops anything while a process of the estate may still use it: every process but
the managed clusters (needed to drop their databases) is stopped and confirmed gone first; if one
cannot be stopped the operation fails right there, naming it, with nothing dropped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.errors import OdooplaneError
from odooplane.estate.models import ManagedCluster
from odooplane.operations import observe, provision, temporaries
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.services import postgres
from odooplane.services.postgres import ClusterConn
from odooplane.store import ports

Progress = Callable[[str], None]
DROP_PARALLEL = 4  # databases dropped at once per cluster


@dataclass
class DownResult:
    operation_id: int
    stopped: bool
    estate: str = ""  # platform name
    path: str = ""  # the estate file acted on
    purged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what a purge leaves under the data directory


def run(path: Path | None, *, purge: bool = False, grace_s: float | None = None,
        progress: Progress | None = None) -> DownResult:
    """Stop the estate at ``path`` (never the remembered one: ``down`` stops, and with ``purge``
    drops, data). Each process gets its stop timeout, at most ``grace_s``, then is killed with its
    process group. Raise StepFailed naming what could not be stopped (before anything is dropped)."""
    ctx = estate_file.context(path, destructive="down --purge" if purge else "down", kubernetes=False)
    try:
        guard(ctx, "estate.apply")
        with Operation(ctx.store, kind="down", target=f"estate {ctx.estate.platform.name}", actor=ctx.actor) as op:
            result = DownResult(operation_id=op.op_id, stopped=True, estate=ctx.estate.platform.name,
                                path=str(ctx.valid.path.resolve()))
            if purge:
                managed = [n for n, c in ctx.estate.clusters.items() if isinstance(c, ManagedCluster)]
                keep = [observe.cluster_program(n) for n in managed]
                if managed:
                    if not ctx.driver.processes():
                        # Stopped already (a plain `down`): starting supervisord for the clusters must not
                        # start everything else again.
                        for name in ctx.driver.process_names():
                            if name not in keep:
                                ctx.driver.remove_process(name)
                    op.step("supervisor", "runtime", ctx.driver.prepare)  # their databases are dropped through them
                    _settle(ctx, keep)
                op.step("stop", "processes", partial(ctx.driver.stop_processes, keep=keep, grace_s=grace_s,
                                                     progress=progress))
                _purge_data(ctx, op, result)
            op.step("stop", "runtime", partial(ctx.driver.shutdown, grace_s=grace_s, progress=progress))
            if purge:
                _purge_files(ctx, op, result)
            return result
    finally:
        ctx.close()


def _settle(ctx: Context, programs: list[str]) -> None:
    """Wait for the clusters supervisord (re)started by itself: one still starting holds its port, and
    would be taken for another program on it."""
    present = ctx.driver.processes()
    for name in programs:
        if name in present:
            try:
                ctx.driver.wait_running(name, timeout=60)
            except OdooplaneError:
                pass  # ensure_cluster says what is wrong with it


def _purge_data(ctx: Context, op: Operation, result: DownResult) -> None:
    """Drop every database and role this estate owns on every reachable cluster (by marker), and
    first what killed or failed operations left (a half-made database has no marker yet, and its
    owner could not be dropped while it exists)."""
    conns: dict[str, ClusterConn] = {}
    for name in ctx.estate.clusters:
        try:
            conns[name] = provision.ensure_cluster(ctx, op, name)
        except StepFailed as exc:
            result.failures.append(str(exc))
    for proc in ctx.driver.process_names():
        if proc.startswith(("odoo-", "pool-")):
            op.step("remove-process", proc, partial(ctx.driver.remove_process, proc))
    result.purged.extend(op.step("clean-up", "leftovers", partial(temporaries.clean_up, ctx, operation_id=op.op_id)))
    for conn in conns.values():
        dbs, roles = postgres.owned_objects(conn, ctx.estate_id)

        def drop(item: tuple[str, str], conn: ClusterConn = conn) -> str:
            db, target = item
            op.step("drop-database", target, partial(postgres.drop_database, conn, db))
            return f"database {db}"

        # Dropped a few at a time: each DROP DATABASE waits mostly on the cluster's disk, and a
        # bounded number in flight keeps the cluster serving its other databases meanwhile.
        with ThreadPoolExecutor(max_workers=DROP_PARALLEL) as pool:
            result.purged.extend(pool.map(drop, sorted(dbs.items())))
        for role, target in sorted(roles.items()):
            op.step("drop-role", target, partial(postgres.drop_role, conn, role))
            result.purged.append(f"role {role}")
    owners = [f"env/{env.ref}" for env in ctx.valid.environments] + [f"pool/{p.name}" for p in ctx.valid.pools]
    ports.release_all(ctx.store, owners)
    ctx.secrets.delete_prefixes([f"{owner}/" for owner in owners] + ["template/"])


def plaintext_dirs(ctx: Context) -> list[Path]:
    """Every directory of the data directory that may hold a plaintext copy of tenant data (or the
    runtime's configuration of it): environments' and pools' data dirs with their filestores,
    templates, backup stages (dump + filestore links), the attachments fetched from buckets,
    restore/verify/export/import sandboxes, caught mail, the edge's routes, supervisord's programs."""
    layout = ctx.layout
    return [layout.envs, layout.pools, layout.templates, layout.backups / "staging", layout.backups / "sandboxes",
            layout.backups / "bucket-cache",
            layout.run_root / "sandboxes", layout.mail, layout.edge, layout.supervisor]


def kept_paths(ctx: Context) -> list[Path]:
    """What a purge leaves, on purpose: the state database (when it is a file here), the key that
    decrypts its secrets, the logs and the encrypted backup repositories."""
    layout = ctx.layout
    return [p for p in dict.fromkeys((layout.state_db, layout.key_file, layout.logs, layout.run_root / "logs",
                                      layout.backups / "repositories")) if p.exists()]


def _purge_files(ctx: Context, op: Operation, result: DownResult) -> None:
    for name, cluster in ctx.estate.clusters.items():
        if isinstance(cluster, ManagedCluster):
            op.step("remove-cluster", f"cluster {name}", partial(ctx.driver.remove_cluster, name))
            op.step("remove-pitr", f"cluster {name}", partial(ctx.driver.pitr.remove, name))
            ports.release(ctx.store, owner=f"cluster/{name}")
            ctx.secrets.delete_prefix(f"cluster/{name}/")
            result.purged.append(f"cluster {name}")
    # The environments' and pools' data_dirs (filestores, sessions) where the driver keeps them.
    storages = [*(f"env-{env.ref.slug}" for env in ctx.valid.environments if env.pool is None),
                *(f"pool-{pool.name}" for pool in ctx.valid.pools)]
    for storage in storages:
        op.step("remove-storage", storage, partial(ctx.driver.storage.remove_storage, storage))
    for sub in plaintext_dirs(ctx):
        if sub.exists():
            label = str(sub.relative_to(ctx.layout.root)) if sub.is_relative_to(ctx.layout.root) else str(sub)
            op.step("remove-directory", label, partial(_remove_tree, sub))
    if ctx.layout.run_root != ctx.layout.root and ctx.layout.run_root.exists():
        # Odoo's runtime directory outside the data directory (as root: its service user's): all of
        # it but Odoo's logs, kept like every other log.
        for sub in sorted(ctx.layout.run_root.iterdir()):
            if sub.name != "logs":
                op.step("remove-directory", str(sub), partial(_remove_tree, sub))
    op.step("remove-runtime", "runtime", ctx.driver.purge)  # e.g. a compose project's volumes and network
    for memory in ctx.layout.root.glob("health-memory-*.json"):  # counters of processes that are gone
        memory.unlink(missing_ok=True)
    result.kept = [str(p) for p in kept_paths(ctx)]


def _remove_tree(path: Path) -> None:
    """Remove ``path`` and then its parent if that is left empty (``clusters/``, ``backups/``).
    A file that cannot be removed fails the step: a purge that says it is done has removed it."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.rmdir()
    except OSError:
        pass
