"""Probe history: what each health sweep found, kept for a while for trends and the status page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware

KEEP = dt.timedelta(hours=48)


@dataclass(frozen=True)
class ProbeRow:
    ts: dt.datetime
    target: str
    status: str
    checks: list[dict[str, Any]]


def record(store: Store, at: dt.datetime, rows: Iterable[tuple[str, str, list[dict[str, Any]]]]) -> None:
    """Append one sweep (target, status, checks) and forget what is older than 48 hours."""
    values = [{"ts": at, "target": t, "status": s, "checks": c} for t, s, c in rows]
    with store.begin() as conn:
        if values:
            conn.execute(tables.probe_results.insert(), values)
            targets = [v["target"] for v in values]
            for start in range(0, len(targets), 500):
                conn.execute(tables.probe_latest.delete().where(
                    tables.probe_latest.c.target.in_(targets[start:start + 500])))
            conn.execute(tables.probe_latest.insert(), values)
        conn.execute(tables.probe_results.delete().where(tables.probe_results.c.ts < at - KEEP))


def latest(store: Store, *, targets: Collection[str] | None = None) -> dict[str, ProbeRow]:
    """The newest probe result of every target ever swept (one query), or of ``targets`` only, by
    target."""
    query = sa.select(tables.probe_latest)
    if targets is not None:
        query = query.where(tables.probe_latest.c.target.in_(list(targets)))
    with store.connect() as conn:
        rows = conn.execute(query).all()
    out = {}
    for row in rows:
        ts = aware(row.ts)
        assert ts is not None
        out[row.target] = ProbeRow(ts, row.target, row.status, row.checks)
    return out


def statuses(store: Store) -> dict[str, str]:
    """The newest status of every target ever swept, without the checks (a filter's worth)."""
    with store.connect() as conn:
        rows = conn.execute(sa.select(tables.probe_latest.c.target, tables.probe_latest.c.status)).all()
    return {r.target: r.status for r in rows}


def history(store: Store, *, since: dt.datetime, target: str | None = None) -> list[ProbeRow]:
    query = sa.select(tables.probe_results).where(tables.probe_results.c.ts >= since).order_by(
        tables.probe_results.c.ts)
    if target:
        query = query.where(tables.probe_results.c.target == target)
    with store.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        ts = aware(row.ts)
        assert ts is not None
        out.append(ProbeRow(ts, row.target, row.status, row.checks))
    return out
