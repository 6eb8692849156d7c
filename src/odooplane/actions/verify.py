"""``verify``: prove that a backup restores (sandbox restore + checks + Odoo boot), with evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import verify as verifying
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation


def run(path: Path | None, targets: list[str], *, repository: str | None = None, snapshot: str | None = None,
        listener: Callable[[str, str, str], None] | None = None) -> list[verifying.Verification]:
    ctx = estate_file.context(path)
    try:
        envs = [e for e in select(ctx, targets) if e.backup_policy is not None or repository]
        guard(ctx, "backups.run", envs)
        return run_in(ctx, envs, repository=repository, snapshot=snapshot, listener=listener)
    finally:
        ctx.close()


def run_in(ctx: Context, envs: list[DesiredEnvironment], *, repository: str | None = None,
           snapshot: str | None = None, listener: Callable[[str, str, str], None] | None = None,
           one: Callable[[Operation, DesiredEnvironment], verifying.Verification] | None = None
           ) -> list[verifying.Verification]:
    """Verify a backup of each of ``envs`` as one operation (``one``: how one is verified: on this
    host by default, by a Job in the cluster on a kubernetes estate)."""
    if one is None and ctx.estate.platform.driver == "kubernetes":
        from odooplane.actions import kubernetes_verify

        one = kubernetes_verify.in_cluster(ctx, repository=repository, snapshot=snapshot)
    out = []
    with Operation(ctx.store, kind="verify", target=str(envs[0].ref) if len(envs) == 1 else "estate",
                   actor=ctx.actor, listener=listener) as op:
        for env in envs:
            out.append(one(op, env) if one is not None
                       else verifying.verify(ctx, op, env, repository=repository, snapshot=snapshot))
    return out
