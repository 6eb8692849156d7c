"""Guardrail waivers: a rule set aside for a target, with a reason, until an expiry, in force only
once someone other than the requester approved it."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now


@dataclass(frozen=True)
class Waiver:
    id: int
    rule: str
    target: str  # tenant/env, tenant/* or *
    reason: str
    requested_by: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    revoked_by: str | None
    revoked_at: dt.datetime | None

    def state(self, at: dt.datetime) -> str:
        """requested | active | expired | revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= at:
            return "expired"
        return "active" if self.approved_at is not None else "requested"

    def covers(self, rule: str, target: str) -> bool:
        return self.rule == rule and fnmatch.fnmatchcase(target, self.target)


def _row(r: Any) -> Waiver:
    requested, expires = aware(r.requested_at), aware(r.expires_at)
    assert requested is not None and expires is not None
    return Waiver(r.id, r.rule, r.target, r.reason, r.requested_by, requested, expires, r.approved_by,
                  aware(r.approved_at), r.revoked_by, aware(r.revoked_at))


def request(store: Store, *, rule: str, target: str, reason: str, actor: str, expires_at: dt.datetime) -> Waiver:
    with store.begin() as conn:
        result = conn.execute(tables.waivers.insert().values(
            rule=rule, target=target, reason=reason, requested_by=actor, requested_at=now(), expires_at=expires_at))
        waiver_id = int(result.inserted_primary_key[0])
    found = get(store, waiver_id)
    assert found is not None
    return found


def get(store: Store, waiver_id: int) -> Waiver | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.waivers).where(tables.waivers.c.id == waiver_id)).first()
    return _row(row) if row is not None else None


def every(store: Store) -> list[Waiver]:
    """Every waiver ever asked for, newest first."""
    with store.connect() as conn:
        rows = conn.execute(sa.select(tables.waivers).order_by(tables.waivers.c.id.desc())).all()
    return [_row(r) for r in rows]


def in_force(store: Store, at: dt.datetime) -> list[Waiver]:
    """The approved waivers neither revoked nor expired at ``at`` (one query)."""
    w = tables.waivers
    with store.connect() as conn:
        rows = conn.execute(sa.select(w).where(w.c.approved_at.is_not(None), w.c.revoked_at.is_(None),
                                               w.c.expires_at > at)).all()
    return [_row(r) for r in rows]


def approve(store: Store, waiver_id: int, *, actor: str) -> bool:
    """Approve a waiver still waiting for it; False if it no longer waits (approved, revoked, expired)."""
    w = tables.waivers
    with store.begin() as conn:
        done = conn.execute(w.update().where(w.c.id == waiver_id, w.c.approved_at.is_(None), w.c.revoked_at.is_(None),
                                             w.c.expires_at > now()).values(approved_by=actor, approved_at=now()))
        return bool(done.rowcount == 1)


def revoke(store: Store, waiver_id: int, *, actor: str) -> bool:
    w = tables.waivers
    with store.begin() as conn:
        done = conn.execute(w.update().where(w.c.id == waiver_id, w.c.revoked_at.is_(None))
                            .values(revoked_by=actor, revoked_at=now()))
        return bool(done.rowcount == 1)
