"""``operations``: read the operation journal."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.errors import NotFound
from odooplane.store import journal


def recent(path: Path | None, *, limit: int = 20) -> list[journal.OperationRow]:
    ctx = estate_file.context(path)
    try:
        journal.mark_interrupted(ctx.store)
        return journal.operations(ctx.store, limit=limit)
    finally:
        ctx.close()


def show(path: Path | None, op_id: int) -> tuple[journal.OperationRow, list[journal.StepRow]]:
    ctx = estate_file.context(path)
    try:
        op = journal.operation(ctx.store, op_id)
        if op is None:
            raise NotFound(f"operation #{op_id} does not exist")
        return op, journal.steps(ctx.store, op_id)
    finally:
        ctx.close()
