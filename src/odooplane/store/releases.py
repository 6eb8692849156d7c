"""Release history: what each environment runs (the newest successful install or upgrade, with the
module hashes it was applied with), its upgrades and rollbacks, and the promotion requests,
approvals and gate decisions of the change process. Append-only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from odooplane import clock
from odooplane.store import tables
from odooplane.store.db import Store, aware

APPLIED_KINDS = ("install", "upgrade")


@dataclass(frozen=True)
class Event:
    id: int
    ts: dt.datetime
    target: str
    kind: str
    release: str | None
    from_release: str | None
    status: str
    actor: str
    duration_s: float | None = None
    downtime_s: float | None = None
    operation_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def add(store: Store, *, target: str, kind: str, status: str, actor: str, release: str | None = None,
        from_release: str | None = None, duration_s: float | None = None, downtime_s: float | None = None,
        operation_id: int | None = None, detail: dict[str, Any] | None = None) -> int:
    with store.begin() as conn:
        result = conn.execute(tables.release_events.insert().values(
            ts=clock.utcnow(), target=target, kind=kind, release=release, from_release=from_release, status=status,
            actor=actor, duration_s=duration_s, downtime_s=downtime_s, operation_id=operation_id,
            detail=detail or {}))
        return int(result.inserted_primary_key[0])


def _event(row: Any) -> Event:
    ts = aware(row.ts)
    assert ts is not None
    return Event(row.id, ts, row.target, row.kind, row.release, row.from_release, row.status, row.actor,
                 row.duration_s, row.downtime_s, row.operation_id, dict(row.detail or {}))


def events(store: Store, *, target: str | None = None, kinds: tuple[str, ...] = (), limit: int = 200) -> list[Event]:
    """Newest first."""
    query = sa.select(tables.release_events).order_by(tables.release_events.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(tables.release_events.c.target == target)
    if kinds:
        query = query.where(tables.release_events.c.kind.in_(kinds))
    with store.connect() as conn:
        return [_event(r) for r in conn.execute(query).all()]


def event(store: Store, event_id: int) -> Event | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.release_events).where(tables.release_events.c.id == event_id)).first()
    return _event(row) if row else None


def applied(store: Store, target: str) -> Event | None:
    """The newest successful install or upgrade of ``target``: what it runs."""
    found = [e for e in events(store, target=target, kinds=APPLIED_KINDS, limit=20) if e.status == "ok"]
    return found[0] if found else None


def succeeded_on(store: Store, tenant: str, release: str) -> set[str]:
    """Environments (tenant/env) of ``tenant`` on which ``release`` was installed or upgraded successfully."""
    with store.connect() as conn:
        rows = conn.execute(sa.select(tables.release_events.c.target).where(
            tables.release_events.c.kind.in_(APPLIED_KINDS), tables.release_events.c.status == "ok",
            tables.release_events.c.release == release,
            tables.release_events.c.target.like(f"{tenant}/%"))).all()
    return {r.target for r in rows}


def current_all(store: Store, *, targets: Collection[str] | None = None) -> dict[str, str]:
    """What every target (or each of ``targets``) runs — its newest successful install or
    upgrade — in one query."""
    ev = tables.release_events
    newest = (sa.select(sa.func.max(ev.c.id)).where(ev.c.kind.in_(APPLIED_KINDS), ev.c.status == "ok")
              .group_by(ev.c.target))
    if targets is not None:
        newest = newest.where(ev.c.target.in_(list(targets)))
    with store.connect() as conn:
        rows = conn.execute(sa.select(ev.c.target, ev.c.release).where(ev.c.id.in_(newest))).all()
    return {r.target: r.release for r in rows if r.release}


def between(store: Store, *, targets: Collection[str], start: dt.datetime, end: dt.datetime) -> list[Event]:
    """The release events of ``targets`` in [start, end), oldest first."""
    r = tables.release_events
    with store.connect() as conn:
        rows = conn.execute(sa.select(r).where(r.c.target.in_(list(targets)), r.c.ts >= start, r.c.ts < end)
                            .order_by(r.c.id)).all()
    return [_event(row) for row in rows]
