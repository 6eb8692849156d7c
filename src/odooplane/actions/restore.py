"""``restore``: bring back an environment from a backup — in place or into another environment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.drivers import registry
from odooplane.errors import UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import restore as restoring
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation

if TYPE_CHECKING:
    from odooplane.actions.kubernetes_ops import Probe


def parse_at(text: str) -> dt.datetime:
    """An ISO timestamp (``2026-11-20T14:30``, UTC unless it says otherwise)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--at {text!r}: use an ISO timestamp like 2026-11-20T14:30 or 2026-11-20T14:30+01:00"
                         ) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def run(path: Path | None, target: str, *, source: str | None = None, repository: str | None = None,
        snapshot: str | None = None, at: str | None = None, pitr: bool = False, unconfirmed: bool = False,
        listener: Callable[[str, str, str], None] | None = None) -> restoring.RestoreResult:
    if snapshot and at:
        raise UsageError("give --snapshot or --at, not both")
    if pitr and snapshot:
        raise UsageError("--pitr restores from the WAL archive: give --at (or nothing for the latest), not --snapshot")
    ctx = estate_file.context(path, destructive="restore")
    try:
        (target_env,) = select(ctx, [target]) if "/" in target else (None,)
        if target_env is None:
            raise UsageError(f"{target}: name one environment (tenant/env)")
        source_env = select(ctx, [source])[0] if source else target_env
        guard(ctx, "restore", [target_env])
        guard(ctx, "backups.read", [source_env])
        if ctx.estate.platform.driver == "kubernetes":
            return in_cluster(ctx, target_env, source=source_env, repository=repository, snapshot=snapshot,
                              at=parse_at(at) if at else None, pitr=pitr, unconfirmed=unconfirmed, listener=listener)
        with Operation(ctx.store, kind="restore", target=target, actor=ctx.actor, listener=listener) as op:
            return restoring.restore(ctx, op, source=source_env, target=target_env, repository=repository,
                                     snapshot=snapshot, at=parse_at(at) if at else None, pitr=pitr,
                                     unconfirmed=unconfirmed)
    finally:
        ctx.close()


def in_cluster(ctx: Context, target: DesiredEnvironment, *, source: DesiredEnvironment, repository: str | None,
               snapshot: str | None, at: dt.datetime | None, pitr: bool, unconfirmed: bool,
               listener: Callable[[str, str, str], None] | None = None,
               server: registry.ApiServer | None = None, wait: float = 6 * 3600, interval: float = 2.0,
               probe: Probe | None = None) -> restoring.RestoreResult:
    """A kubernetes estate's restore: in place from a backup, by Jobs in the cluster (what is not
    done there yet is refused before anything is sent)."""
    from odooplane.actions import kubernetes_restore

    if pitr:
        raise UsageError("--pitr on kubernetes: CloudNativePG restores a cluster to a time as a new Cluster "
                         "(odooplane pitr restore-cluster; docs/kubernetes.md)")
    with Operation(ctx.store, kind="restore", target=str(target.ref), actor=ctx.actor, listener=listener) as op:
        return kubernetes_restore.run(ctx, op, target, repository=repository, snapshot=snapshot, at=at,
                                      unconfirmed=unconfirmed, server=server, wait=wait, interval=interval,
                                      probe=probe, source=source)
