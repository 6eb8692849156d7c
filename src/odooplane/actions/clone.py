"""``clone`` (a neutralized copy of one environment into another) and ``mail`` (what a
non-production environment sent, as the catcher caught it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.errors import UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import clones, mail
from odooplane.operations import restore as restoring
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.services import mailcatcher


def _one(ctx: Context, text: str, what: str) -> DesiredEnvironment:
    if "/" not in text:
        raise UsageError(f"{what} {text!r}: name one environment (tenant/env)")
    return select(ctx, [text])[0]


def run(path: Path | None, source: str, target: str, *, anonymize: bool = False,
        listener: Callable[[str, str, str], None] | None = None) -> restoring.RestoreResult:
    ctx = estate_file.context(path, destructive="clone", kubernetes=False)
    try:
        src, dst = _one(ctx, source, "SOURCE"), _one(ctx, target, "TARGET")
        clones.check_pair(src, dst)  # before an operation is journaled: bad input changes nothing
        guard(ctx, "clones.create", [dst])
        guard(ctx, "backups.read", [src])
        with Operation(ctx.store, kind="clone", target=target, actor=ctx.actor, listener=listener) as op:
            return clones.clone(ctx, op, source=src, target=dst, anonymize=anonymize)
    finally:
        ctx.close()


def messages(path: Path | None, target: str, *, limit: int = 50) -> list[mailcatcher.Message]:
    ctx = estate_file.context(path, kubernetes=False)
    try:
        env = _one(ctx, target, "TARGET")
        if env.stage in ("production", "dr"):
            raise UsageError(f"{target} is a {env.stage} environment: its mail is delivered, not caught")
        return mail.messages(ctx, env, limit=limit)
    finally:
        ctx.close()
