"""``drill``: a DR drill of environments against their objectives, recorded as evidence."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.backup import select
from odooplane.operations import drills
from odooplane.operations.runner import Operation


def run(path: Path | None, targets: list[str], *, dr_cluster: str | None = None,
        pitr: bool = False) -> list[drills.DrillResult]:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        envs = select(ctx, targets)
        out = []
        with Operation(ctx.store, kind="drill", target=str(envs[0].ref) if len(envs) == 1 else "estate",
                       actor=ctx.actor) as op:
            for env in envs:
                out.append(drills.drill(ctx, op, env, dr_cluster=dr_cluster, use_pitr=pitr))
        return out
    finally:
        ctx.close()
