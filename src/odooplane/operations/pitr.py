"""Point-in-time recovery of managed clusters (the driver's ``pitr``: pgBackRest on the local
driver): WAL archiving configured with the cluster, a stanza, base backups on schedule, restores
of the whole cluster to a time (into a new cluster) or of one tenant database to a time (via a
scratch copy)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from odooplane.drivers.base import PitrBackup, PitrSpec, ScratchCluster
from odooplane.errors import PermanentError, UsageError
from odooplane.estate.models import ManagedCluster, Pitr
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services.postgres import ClusterConn
from odooplane.store import evidence


def settings_of(ctx: Context, name: str) -> Pitr | None:
    cluster = ctx.estate.clusters[name]
    return cluster.pitr if isinstance(cluster, ManagedCluster) else None


def spec(ctx: Context, name: str, conn: ClusterConn) -> PitrSpec:
    """What point-in-time recovery of managed cluster ``name`` (which must have ``pitr``) is."""
    cluster = ctx.estate.clusters[name]
    pitr = settings_of(ctx, name)
    if pitr is None or not isinstance(cluster, ManagedCluster):
        raise UsageError(f"cluster {name} has no point-in-time recovery (set clusters.{name}.pitr)")
    return PitrSpec(name=name, stanza=f"{ctx.estate.platform.name}-{name}", port=conn.port, password=conn.password,
                    bin_dir=cluster.bin_dir, retention_full=pitr.retention_full,
                    archive_timeout_s=pitr.archive_timeout_s)


def archiving(ctx: Context, name: str, conn: ClusterConn) -> dict[str, str | int | bool]:
    """Server settings that make the cluster archive its WAL into the stanza."""
    return ctx.driver.pitr.archiving(spec(ctx, name, conn))


def ensure(ctx: Context, op: Operation, name: str, conn: ClusterConn) -> None:
    """Create the stanza, check archiving, and take a first full backup if there is none."""
    target = f"cluster {name}"
    wanted = spec(ctx, name, conn)
    ctx.driver.pitr.ensure_stanza(wanted, step=lambda step_name, action, **kw: op.step(step_name, target, action, **kw))
    if not ctx.driver.pitr.backups(wanted):
        op.step("pitr-backup", target, lambda: backup(ctx, op, name, conn, kind="full"))


def backups(ctx: Context, name: str, conn: ClusterConn) -> list[PitrBackup]:
    return ctx.driver.pitr.backups(spec(ctx, name, conn))


def newest_restorable(ctx: Context, name: str, conn: ClusterConn) -> dt.datetime | None:
    return ctx.driver.pitr.newest_restorable(spec(ctx, name, conn))


def backup(ctx: Context, op: Operation, name: str, conn: ClusterConn, *,
           kind: Literal["full", "diff", "incr"] = "full") -> PitrBackup:
    info = ctx.driver.pitr.backup(spec(ctx, name, conn), kind)
    evidence.add(ctx.store, kind="pitr-backup", target=f"cluster {name}", ok=True, operation_id=op.op_id,
                 data={"label": info.label, "type": info.kind, "start": info.started_at.isoformat(),
                       "stop": info.stopped_at.isoformat(), "repo_bytes": info.repo_size},
                 summary=f"cluster {name}: pgBackRest {info.kind} backup {info.label}")
    return info


@dataclass(frozen=True)
class PitrPoint:
    requested: dt.datetime | None
    newest_restorable: dt.datetime | None


def _point(ctx: Context, wanted: PitrSpec, at: dt.datetime | None) -> PitrPoint:
    if at is not None and at > ctx.clock.now():
        raise UsageError(f"--at {at.isoformat()} is in the future")
    return PitrPoint(at, ctx.driver.pitr.newest_restorable(wanted))


def scratch(ctx: Context, name: str, conn: ClusterConn, *, at: dt.datetime | None, scratch_name: str
            ) -> tuple[ScratchCluster, PitrPoint]:
    """A running copy of cluster ``name`` at ``at`` (latest when None)."""
    wanted = spec(ctx, name, conn)
    point = _point(ctx, wanted, at)
    return ctx.driver.pitr.scratch(wanted, at=at, name=scratch_name), point


def restore_cluster(ctx: Context, op: Operation, *, source: str, target: str, at: dt.datetime | None) -> PitrPoint:
    """Restore the whole cluster ``source`` to ``at`` into the managed cluster ``target`` (declared
    in the estate, never created yet): it becomes that cluster, with the source's superuser."""
    source_conn = ctx.cluster_conn(source, allocate=False)
    if source_conn is None:
        raise PermanentError(f"cluster {source} is not provisioned")
    if not isinstance(ctx.estate.clusters.get(target), ManagedCluster):
        raise UsageError(f"--to {target}: declare it under clusters as kind: managed first")
    wanted = spec(ctx, source, source_conn)

    def restore() -> tuple[ScratchCluster, PitrPoint]:
        point = _point(ctx, wanted, at)
        return ctx.driver.pitr.restore_cluster(wanted, at=at, target=target), point

    copy, point = op.step("pitr-restore", f"cluster {target}", restore)

    def adopt() -> None:  # the password first: a cluster marked as made always has its superuser's
        ctx.secrets.put(f"cluster/{target}/superuser", source_conn.password or "")
        ctx.driver.pitr.adopt(copy, target)

    op.step("pitr-adopt", f"cluster {target}", adopt)
    return point
