"""The audit log: append-only, each entry chained to the previous one by a SHA-256 hash so that
an edited or deleted entry is detected by :func:`verify_chain`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


def _digest(prev: str, ts: dt.datetime, *fields: Any) -> str:
    body = json.dumps(
        [prev, ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), *fields],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    store: Store, *, actor: str, action: str, target: str, outcome: str, detail: dict[str, Any] | None = None
) -> None:
    """Append an audit entry. ``detail`` must not contain secrets (callers pass names, not values)."""
    ts = now()
    with store.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise writers so the chain has no forks.
            conn.execute(sa.text("LOCK TABLE audit IN EXCLUSIVE MODE"))
        prev = conn.execute(sa.select(tables.audit.c.hash).order_by(tables.audit.c.id.desc()).limit(1)).scalar()
        prev_hash = prev or GENESIS
        conn.execute(
            tables.audit.insert().values(
                ts=ts,
                actor=actor,
                action=action,
                target=target,
                outcome=outcome,
                detail=detail,
                prev_hash=prev_hash,
                hash=_digest(prev_hash, ts, actor, action, target, outcome, detail),
            )
        )


def _entry(r: Any) -> AuditEntry:
    ts = aware(r.ts)
    assert ts is not None
    return AuditEntry(r.id, ts, r.actor, r.action, r.target, r.outcome, r.detail, r.prev_hash, r.hash)


def entries(
    store: Store, *, limit: int = 100, target: str | None = None, before: int | None = None
) -> list[AuditEntry]:
    query = sa.select(tables.audit).order_by(tables.audit.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(tables.audit.c.id < before)
    if target:
        query = query.where(tables.audit.c.target == target)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [_entry(r) for r in rows]


def verify_chain(store: Store) -> list[int]:
    """Return the ids of entries whose hash does not match (empty: the log is intact)."""
    bad: list[int] = []
    prev = GENESIS
    with store.connect() as conn:
        for r in conn.execute(sa.select(tables.audit).order_by(tables.audit.c.id)).all():
            ts = aware(r.ts)
            assert ts is not None
            expected = _digest(prev, ts, r.actor, r.action, r.target, r.outcome, r.detail)
            if r.prev_hash != prev or r.hash != expected:
                bad.append(r.id)
            prev = r.hash
    return bad


def between(store: Store, *, start: dt.datetime, end: dt.datetime) -> list[AuditEntry]:
    """Every entry made in [start, end), oldest first."""
    a = tables.audit
    with store.connect() as conn:
        rows = conn.execute(sa.select(a).where(a.c.ts >= start, a.c.ts < end).order_by(a.c.id)).all()
    return [_entry(r) for r in rows]
