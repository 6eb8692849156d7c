"""Point-in-time recovery of managed clusters with pgBackRest: WAL archiving configured with the
cluster, a stanza, base backups on schedule, restores of the whole cluster to a time (into a new
cluster) or of one tenant database to a time (via a scratch copy)."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from odooplane.errors import PermanentError, UsageError
from odooplane.estate.models import ManagedCluster, Pitr
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services import managed_pg, pg_binaries, pgbackrest
from odooplane.services.pgbackrest import PgBackRestConfig
from odooplane.services.postgres import ClusterConn
from odooplane.store import evidence


def settings_of(ctx: Context, name: str) -> Pitr | None:
    cluster = ctx.estate.clusters[name]
    return cluster.pitr if isinstance(cluster, ManagedCluster) else None


def config(ctx: Context, name: str, conn: ClusterConn) -> PgBackRestConfig:
    """The pgBackRest configuration of managed cluster ``name`` (which must have ``pitr``)."""
    cluster = ctx.estate.clusters[name]
    pitr = settings_of(ctx, name)
    if pitr is None or not isinstance(cluster, ManagedCluster):
        raise UsageError(f"cluster {name} has no point-in-time recovery (set clusters.{name}.pitr)")
    return pgbackrest.config_for_cluster(
        ctx.cluster_root(name), base_dir=pgbackrest.pitr_dir(ctx.layout.root, estate_id=ctx.estate_id, name=name),
        stanza=f"{ctx.estate.platform.name}-{name}", port=conn.port, binaries=pg_binaries.find(cluster.bin_dir),
        password=conn.password, os_user=managed_pg.service_user(), retention_full=pitr.retention_full,
        archive_timeout=pitr.archive_timeout_s,
    )


def archiving(ctx: Context, name: str, conn: ClusterConn) -> dict[str, str | int | bool]:
    """postgresql.conf settings that make the cluster archive its WAL into the stanza."""
    return dict(pgbackrest.archiving_settings(config(ctx, name, conn)))


def ensure(ctx: Context, op: Operation, name: str, conn: ClusterConn) -> None:
    """Create the stanza, check archiving, and take a first full backup if there is none."""
    cfg = config(ctx, name, conn)
    target = f"cluster {name}"
    if not (cfg.base_dir / ".stanza-ok").exists():
        def create() -> None:
            pgbackrest.prepare(cfg)
            pgbackrest.stanza_create(cfg)
            pgbackrest.check(cfg)
            (cfg.base_dir / ".stanza-ok").write_text("ok\n")

        op.step("pitr-stanza", target, create)
    if not pgbackrest.info(cfg):
        op.step("pitr-backup", target, lambda: backup(ctx, op, name, conn, kind="full"))


def backup(ctx: Context, op: Operation, name: str, conn: ClusterConn, *, kind: str = "full") -> pgbackrest.BackupInfo:
    cfg = config(ctx, name, conn)
    info = pgbackrest.backup(cfg, kind)  # type: ignore[arg-type]
    evidence.add(ctx.store, kind="pitr-backup", target=f"cluster {name}", ok=True, operation_id=op.op_id,
                 data={"label": info.label, "type": info.kind, "start": info.started_at.isoformat(),
                       "stop": info.stopped_at.isoformat(), "repo_bytes": info.repo_size},
                 summary=f"cluster {name}: pgBackRest {info.kind} backup {info.label}")
    return info


@dataclass(frozen=True)
class PitrPoint:
    requested: dt.datetime | None
    newest_restorable: dt.datetime | None


def scratch(ctx: Context, name: str, conn: ClusterConn, *, at: dt.datetime | None, into: Path
            ) -> tuple[pgbackrest.RestoredCluster, PitrPoint]:
    """A running copy of cluster ``name`` at ``at`` (latest when None) under ``into``."""
    cfg = config(ctx, name, conn)
    if at is not None and at > ctx.clock.now():
        raise UsageError(f"--at {at.isoformat()} is in the future")
    point = PitrPoint(at, pgbackrest.latest_restorable(cfg))
    if into.exists():
        shutil.rmtree(into)
    from odooplane.operations.sandbox import free_port

    return pgbackrest.restore_to_time(cfg, target_time=at, target_dir=into, port=free_port()), point


def restore_cluster(ctx: Context, op: Operation, *, source: str, target: str, at: dt.datetime | None) -> PitrPoint:
    """Restore the whole cluster ``source`` to ``at`` into the managed cluster ``target`` (declared
    in the estate, never created yet): it becomes that cluster, with the source's superuser."""
    source_conn = ctx.cluster_conn(source, allocate=False)
    if source_conn is None:
        raise PermanentError(f"cluster {source} is not provisioned")
    if not isinstance(ctx.estate.clusters.get(target), ManagedCluster):
        raise UsageError(f"--to {target}: declare it under clusters as kind: managed first")
    layout = ctx.cluster_root(target)
    if layout.initialised or (layout.root.exists() and any(layout.root.iterdir())):
        raise UsageError(f"cluster {target} already exists: restore into a new cluster")
    copy, point = op.step("pitr-restore", f"cluster {target}",
                          lambda: scratch(ctx, source, source_conn, at=at, into=layout.root))
    op.step("pitr-adopt", f"cluster {target}", lambda: _adopt(ctx, target, copy, source_conn))
    return point


def _adopt(ctx: Context, target: str, copy: pgbackrest.RestoredCluster, source_conn: ClusterConn) -> None:
    copy.stop()
    ctx.secrets.put(f"cluster/{target}/superuser", source_conn.password or "")
    (copy.layout.root / managed_pg.INITIALISED_MARK).write_text("restored\n")
