"""``history``, ``promote`` and ``approve``: the release history of environments, and moving a
release to environments through the change gates (previous stage, approvals with separation of
duties, maintenance windows, freezes, emergency override) — every decision in the history and the
audit log."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.backup import select
from odooplane.errors import NotFound, UsageError
from odooplane.store import releases


def history(path: Path | None, target: str | None, *, limit: int = 100) -> list[releases.Event]:
    ctx = estate_file.context(path)
    try:
        if target is None:
            return releases.events(ctx.store, limit=limit)
        if "/" in target:
            env = select(ctx, [target])[0]
            return releases.events(ctx.store, target=str(env.ref), limit=limit)
        if target not in ctx.estate.tenants:
            raise NotFound(f"{target}: no such tenant or environment in {ctx.valid.path}")
        found = [e for e in releases.events(ctx.store, limit=10 * limit) if e.target.startswith(f"{target}/")]
        return found[:limit]
    finally:
        ctx.close()


def _check_release(known: dict[str, object], release: str) -> None:
    if release not in known:
        names = ", ".join(sorted(known)) or "none are declared under releases"
        raise UsageError(f"unknown release {release!r} (known: {names})")
