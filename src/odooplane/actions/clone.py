"""``clone`` (a neutralized copy of one environment into another) and ``mail`` (what a
non-production environment sent, as the catcher caught it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.drivers import registry
from odooplane.errors import UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import clones, mail
from odooplane.operations import restore as restoring
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services import mailcatcher

if TYPE_CHECKING:
    from odooplane.actions.kubernetes_ops import Probe


def _one(ctx: Context, text: str, what: str) -> DesiredEnvironment:
    if "/" not in text:
        raise UsageError(f"{what} {text!r}: name one environment (tenant/env)")
    return select(ctx, [text])[0]


def run(path: Path | None, source: str, target: str, *, anonymize: bool = False,
        listener: Callable[[str, str, str], None] | None = None) -> restoring.RestoreResult:
    ctx = estate_file.context(path, destructive="clone")
    try:
        src, dst = _one(ctx, source, "SOURCE"), _one(ctx, target, "TARGET")
        clones.check_pair(src, dst)  # before an operation is journaled: bad input changes nothing
        guard(ctx, "clones.create", [dst])
        guard(ctx, "backups.read", [src])
        if ctx.estate.platform.driver == "kubernetes":
            return in_cluster(ctx, src, dst, anonymize=anonymize, listener=listener)
        with Operation(ctx.store, kind="clone", target=target, actor=ctx.actor, listener=listener) as op:
            return clones.clone(ctx, op, source=src, target=dst, anonymize=anonymize)
    finally:
        ctx.close()


def in_cluster(ctx: Context, source: DesiredEnvironment, target: DesiredEnvironment, *, anonymize: bool,
               listener: Callable[[str, str, str], None] | None = None, server: registry.ApiServer | None = None,
               wait: float = 6 * 3600, interval: float = 2.0,
               probe: Probe | None = None) -> restoring.RestoreResult:
    """A kubernetes estate's clone, by Jobs in the cluster (docs/kubernetes.md)."""
    from odooplane.actions import kubernetes_restore

    with Operation(ctx.store, kind="clone", target=str(target.ref), actor=ctx.actor, listener=listener) as op:
        return kubernetes_restore.clone(ctx, op, source, target, anonymize=anonymize, server=server, wait=wait,
                                        interval=interval, probe=probe)


def messages(path: Path | None, target: str, *, limit: int = 50) -> list[mailcatcher.Message]:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        env = _one(ctx, target, "TARGET")
        if env.stage in ("production", "dr"):
            raise UsageError(f"{target} is a {env.stage} environment: its mail is delivered, not caught")
        return mail.messages(ctx, env, limit=limit)
    finally:
        ctx.close()
