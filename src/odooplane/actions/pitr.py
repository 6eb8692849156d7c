"""``pitr``: point-in-time recovery of managed clusters — base backups, what is restorable, and
restoring a whole cluster to a time into a new cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from odooplane.actions import estate_file
from odooplane.actions.restore import parse_at
from odooplane.errors import NotFound, UsageError
from odooplane.operations import pitr
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services.postgres import ClusterConn


@dataclass(frozen=True)
class PitrInfo:
    cluster: str
    backups: list[dict[str, object]]
    newest_restorable: str | None
    rpo_s: float | None  # how much committed work a loss now could cost


def _conn(ctx: Context, name: str) -> ClusterConn:
    if name not in ctx.estate.clusters:
        raise NotFound(f"no cluster {name!r}")
    conn = ctx.cluster_conn(name, allocate=False)
    if conn is None:
        raise NotFound(f"cluster {name} is not provisioned (run apply)")
    return conn


KINDS: tuple[Literal["full", "diff", "incr"], ...] = ("full", "diff", "incr")


def backup(path: Path | None, cluster: str, *, kind: str = "full") -> dict[str, object]:
    chosen = next((k for k in KINDS if k == kind), None)
    if chosen is None:
        raise UsageError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    ctx = estate_file.context(path, kubernetes=False)
    try:
        conn = _conn(ctx, cluster)
        with Operation(ctx.store, kind="pitr-backup", target=f"cluster {cluster}", actor=ctx.actor) as op:
            made = op.step("pitr-backup", f"cluster {cluster}",
                           lambda: pitr.backup(ctx, op, cluster, conn, kind=chosen))
        return {"label": made.label, "type": made.kind, "stop": made.stopped_at.isoformat()}
    finally:
        ctx.close()


def info(path: Path | None, cluster: str) -> PitrInfo:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        conn = _conn(ctx, cluster)
        found = pitr.backups(ctx, cluster, conn)
        newest = pitr.newest_restorable(ctx, cluster, conn)
        rpo = (ctx.clock.now() - newest).total_seconds() if newest else None
        return PitrInfo(cluster, [{"label": b.label, "type": b.kind, "start": b.started_at.isoformat(),
                                   "stop": b.stopped_at.isoformat(), "repo_bytes": b.repo_size} for b in found],
                        newest.isoformat() if newest else None, round(rpo, 1) if rpo is not None else None)
    finally:
        ctx.close()


def restore_cluster(path: Path | None, source: str, target: str, *, at: str | None) -> pitr.PitrPoint:
    ctx = estate_file.context(path, destructive="pitr restore-cluster", kubernetes=False)
    try:
        with Operation(ctx.store, kind="pitr-restore", target=f"cluster {target}", actor=ctx.actor) as op:
            point = pitr.restore_cluster(ctx, op, source=source, target=target, at=parse_at(at) if at else None)
        return point
    finally:
        ctx.close()

