"""Evidence: records that prove something happened and worked (restore verifications, drills,
backup manifests, approvals). Written only after the thing was checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now


@dataclass(frozen=True)
class Evidence:
    id: int
    ts: dt.datetime
    kind: str
    target: str
    ok: bool
    operation_id: int | None
    data: dict[str, Any]
    summary: str


def _row(r: Any) -> Evidence:
    ts = aware(r.ts)
    assert ts is not None
    return Evidence(r.id, ts, r.kind, r.target, bool(r.ok), r.operation_id, r.data, r.summary)


def add(
    store: Store,
    *,
    kind: str,
    target: str,
    ok: bool,
    data: dict[str, Any],
    summary: str,
    operation_id: int | None = None,
) -> int:
    with store.begin() as conn:
        result = conn.execute(
            tables.evidence.insert().values(
                ts=now(), kind=kind, target=target, ok=ok, data=data, summary=summary, operation_id=operation_id
            )
        )
        return int(result.inserted_primary_key[0])


def query(store: Store, *, kind: str | None = None, target: str | None = None, limit: int = 50) -> list[Evidence]:
    q = sa.select(tables.evidence).order_by(tables.evidence.c.id.desc()).limit(limit)
    if kind:
        q = q.where(tables.evidence.c.kind == kind)
    if target:
        q = q.where(tables.evidence.c.target == target)
    with store.connect() as conn:
        rows = conn.execute(q).all()
    return [_row(r) for r in rows]


def newest(store: Store, kinds: tuple[str, ...]) -> dict[tuple[str, str, bool], dt.datetime]:
    """The newest record of each (target, kind, ok) for ``kinds``, in one grouped query."""
    ev = tables.evidence
    with store.connect() as conn:
        rows = conn.execute(sa.select(ev.c.target, ev.c.kind, ev.c.ok, sa.func.max(ev.c.ts))
                            .where(ev.c.kind.in_(kinds)).group_by(ev.c.target, ev.c.kind, ev.c.ok)).all()
    out = {}
    for target, kind, ok, ts in rows:
        value = aware(ts)
        assert value is not None
        out[(str(target), str(kind), bool(ok))] = value
    return out



def between(store: Store, *, targets: list[str], start: dt.datetime, end: dt.datetime,
            kinds: tuple[str, ...] = ()) -> list[Evidence]:
    """The records of ``targets`` made in [start, end), oldest first (one query)."""
    ev = tables.evidence
    query = sa.select(ev).where(ev.c.target.in_(targets), ev.c.ts >= start, ev.c.ts < end).order_by(ev.c.id)
    if kinds:
        query = query.where(ev.c.kind.in_(kinds))
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [_row(r) for r in rows]


def of_kinds(store: Store, kinds: tuple[str, ...]) -> list[Evidence]:
    """Every successful record of ``kinds``, oldest first (rare events: restores, clones, imports)."""
    ev = tables.evidence
    with store.connect() as conn:
        rows = conn.execute(sa.select(ev).where(ev.c.kind.in_(kinds), ev.c.ok.is_(True)).order_by(ev.c.id)).all()
    return [_row(r) for r in rows]
