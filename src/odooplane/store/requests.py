"""Requested operations: the service records an operation as ``queued`` with what it must do
(``request``: a JSON document naming the kind of work and its arguments) and answers at once; a
worker claims it — compare-and-set from ``queued`` to ``running`` with the worker's identity and a
first heartbeat — and runs it. A requested operation whose worker died (dead on this host, or silent
for longer than the TTL) is claimed again by the next worker that looks, which resumes it: its steps
are idempotent, so running the work again converges. After ``MAX_CLAIMS`` claims it is failed
rather than tried forever."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, now
from odooplane.store.journal import OperationRow, is_alive, row_to_operation
from odooplane.store.liveness import Identity, coordination_now, this_process

MAX_CLAIMS = 3


def enqueue(store: Store, *, kind: str, target: str, actor: str, request: dict[str, Any]) -> int:
    """Record a queued operation; return its id."""
    with store.begin() as conn:
        result = conn.execute(tables.operations.insert().values(
            kind=kind, target=target, status="queued", actor=actor, pid=0, host="", dry_run=False,
            started_at=now(), request=request, claims=0))
        return int(result.inserted_primary_key[0])


def request_of(store: Store, op_id: int) -> dict[str, Any] | None:
    with store.connect() as conn:
        value = conn.execute(sa.select(tables.operations.c.request).where(tables.operations.c.id == op_id)).scalar()
    return dict(value) if isinstance(value, dict) else None


def claim(store: Store, *, ttl_s: float, identity: Identity | None = None) -> OperationRow | None:
    """Claim the oldest queued operation — or a requested one whose worker died — for ``identity``
    (this process); None when there is none. A requested operation claimed ``MAX_CLAIMS`` times
    already is failed instead of claimed again."""
    me = identity or this_process()
    ops = tables.operations
    with store.begin() as conn:
        current = coordination_now(conn)
        queued = conn.execute(sa.select(ops).where(ops.c.status == "queued").order_by(ops.c.id).limit(20)).all()
        running = conn.execute(sa.select(ops).where(ops.c.status == "running", ops.c.request.is_not(None))
                               .order_by(ops.c.id)).all()
        candidates = [*queued, *(r for r in running if not is_alive(row_to_operation(r), now=current, ttl_s=ttl_s))]
        for row in candidates:
            if row.claims >= MAX_CLAIMS:
                conn.execute(ops.update().where(ops.c.id == row.id, ops.c.status == row.status,
                                                ops.c.claims == row.claims)
                             .values(status="failed", finished_at=now(),
                                     error=f"its worker stopped (killed or crashed) {row.claims} times before "
                                           "it finished: not tried again"))
                continue
            taken = conn.execute(
                ops.update()
                .where(ops.c.id == row.id, ops.c.status == row.status, ops.c.claims == row.claims)
                .values(status="running", pid=me.pid, host=me.host, boot_id=me.boot_id, heartbeat_at=current,
                        claims=row.claims + 1))
            if taken.rowcount == 1:
                if row.status == "running":  # the dead worker's step in progress: it is done again
                    conn.execute(tables.steps.update()
                                 .where(tables.steps.c.operation_id == row.id, tables.steps.c.status == "intent")
                                 .values(status="interrupted", finished_at=now()))
                found = conn.execute(sa.select(ops).where(ops.c.id == row.id)).one()
                return row_to_operation(found)
    return None


def pending(store: Store) -> int:
    """How many operations wait for a worker."""
    with store.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(tables.operations)
                                .where(tables.operations.c.status == "queued")).scalar_one())
