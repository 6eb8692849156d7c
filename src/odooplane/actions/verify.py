"""``verify``: prove that a backup restores (sandbox restore + checks + Odoo boot), with evidence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.operations import verify as verifying
from odooplane.operations.runner import Operation


def run(path: Path | None, targets: list[str], *, repository: str | None = None, snapshot: str | None = None,
        listener: Callable[[str, str, str], None] | None = None) -> list[verifying.Verification]:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        envs = [e for e in select(ctx, targets) if e.backup_policy is not None or repository]
        guard(ctx, "backups.run", envs)
        out = []
        with Operation(ctx.store, kind="verify", target=str(envs[0].ref) if len(envs) == 1 else "estate",
                       actor=ctx.actor, listener=listener) as op:
            for env in envs:
                out.append(verifying.verify(ctx, op, env, repository=repository, snapshot=snapshot))
        return out
    finally:
        ctx.close()
