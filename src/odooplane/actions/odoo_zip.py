"""``export`` and ``import``: Odoo's own backup zip format, both ways."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.backup import select
from odooplane.errors import UsageError
from odooplane.operations import odoo_zip
from odooplane.operations.runner import Operation


def export(path: Path | None, target: str, out: Path) -> odoo_zip.ZipResult:
    if out.exists():
        raise UsageError(f"{out} exists: choose another name (nothing is overwritten)")
    ctx = estate_file.context(path, kubernetes=False)
    try:
        (env,) = select(ctx, [target])
        with Operation(ctx.store, kind="export", target=target, actor=ctx.actor) as op:
            return odoo_zip.export(ctx, op, env, out.resolve())
    finally:
        ctx.close()


def would_replace(path: Path | None, target: str) -> bool:
    """Whether importing into ``target`` would replace a database it has (then the CLI asks)."""
    ctx = estate_file.context(path, destructive="import", kubernetes=False)
    try:
        (env,) = select(ctx, [target])
        return odoo_zip.replaces(ctx, env)
    finally:
        ctx.close()


def import_(path: Path | None, target: str, source: Path) -> odoo_zip.ZipResult:
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    ctx = estate_file.context(path, destructive="import", kubernetes=False)
    try:
        (env,) = select(ctx, [target])
        with Operation(ctx.store, kind="import", target=target, actor=ctx.actor) as op:
            return odoo_zip.import_zip(ctx, op, env, source.resolve())
    finally:
        ctx.close()
