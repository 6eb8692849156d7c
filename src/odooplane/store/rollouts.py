"""A rollout wave's history: its phase changes (the newest is where it is) and its sign-offs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now


@dataclass(frozen=True)
class Event:
    id: int
    ts: dt.datetime
    rollout: str
    wave: str
    kind: str
    phase: str
    item: str | None
    actor: str
    detail: dict[str, Any]


def add(store: Store, *, rollout: str, wave: str, kind: str, phase: str, actor: str, item: str | None = None,
        detail: dict[str, Any] | None = None) -> None:
    with store.begin() as conn:
        conn.execute(tables.rollout_events.insert().values(ts=now(), rollout=rollout, wave=wave, kind=kind,
                                                           phase=phase, item=item, actor=actor, detail=detail or {}))


def events(store: Store, rollout: str) -> list[Event]:
    """Every event of ``rollout``, oldest first."""
    r = tables.rollout_events
    with store.connect() as conn:
        rows = conn.execute(sa.select(r).where(r.c.rollout == rollout).order_by(r.c.id)).all()
    out = []
    for row in rows:
        ts = aware(row.ts)
        assert ts is not None
        out.append(Event(row.id, ts, row.rollout, row.wave, row.kind, row.phase, row.item, row.actor,
                         dict(row.detail or {})))
    return out
