"""``evidence``: what has been proven — backups confirmed, restores verified, drills, checks."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.store import evidence


def run(path: Path | None, *, target: str | None = None, kind: str | None = None,
        limit: int = 50) -> list[evidence.Evidence]:
    ctx = estate_file.context(path)
    try:
        return evidence.query(ctx.store, target=target, kind=kind, limit=limit)
    finally:
        ctx.close()


def one(path: Path | None, evidence_id: int) -> evidence.Evidence | None:
    ctx = estate_file.context(path)
    try:
        found = [e for e in evidence.query(ctx.store, limit=100000) if e.id == evidence_id]
        return found[0] if found else None
    finally:
        ctx.close()
