"""The operation journal: every change is an operation of steps, each recorded as an intent
before it acts and as done (or failed) after, so an interrupted run can be seen and resumed.

A running operation is alive while its heartbeat is fresh (its process refreshes ``heartbeat_at``,
operations/runner.py); one of this host whose process is gone is known dead at once
(store/liveness.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from odooplane.settings import Settings
from odooplane.store import tables
from odooplane.store.db import Store, aware, now
from odooplane.store.liveness import Identity, coordination_now, gone, this_process


@dataclass(frozen=True)
class OperationRow:
    id: int
    kind: str
    target: str
    status: str
    actor: str
    pid: int
    host: str
    dry_run: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None
    summary: dict[str, Any] | None
    boot_id: str | None = None
    heartbeat_at: dt.datetime | None = None  # wall clock of the state store (store/liveness.py)


@dataclass(frozen=True)
class StepRow:
    id: int
    operation_id: int
    seq: int
    name: str
    target: str
    status: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_s: float | None
    detail: str | None
    error: str | None


def row_to_operation(row: Any) -> OperationRow:
    started = aware(row.started_at)
    assert started is not None
    return OperationRow(
        row.id,
        row.kind,
        row.target,
        row.status,
        row.actor,
        row.pid,
        row.host,
        bool(row.dry_run),
        started,
        aware(row.finished_at),
        row.error,
        row.summary,
        row.boot_id,
        aware(row.heartbeat_at),
    )


def _step(row: Any) -> StepRow:
    started = aware(row.started_at)
    assert started is not None
    return StepRow(
        row.id,
        row.operation_id,
        row.seq,
        row.name,
        row.target,
        row.status,
        row.attempts,
        started,
        aware(row.finished_at),
        row.duration_s,
        row.detail,
        row.error,
    )


def start_operation(store: Store, *, kind: str, target: str, actor: str, dry_run: bool = False,
                    identity: Identity | None = None) -> int:
    """Record a new running operation of this process (or of ``identity``), its first heartbeat
    now; return its id."""
    me = identity or this_process()
    with store.begin() as conn:
        result = conn.execute(
            tables.operations.insert().values(
                kind=kind,
                target=target,
                status="running",
                actor=actor,
                pid=me.pid,
                host=me.host,
                boot_id=me.boot_id,
                dry_run=dry_run,
                started_at=now(),
                heartbeat_at=coordination_now(conn),
            )
        )
        return int(result.inserted_primary_key[0])


def heartbeat(store: Store, op_id: int) -> None:
    """Refresh a running operation's heartbeat (its process is still at work)."""
    with store.begin() as conn:
        conn.execute(tables.operations.update()
                     .where(tables.operations.c.id == op_id, tables.operations.c.status == "running")
                     .values(heartbeat_at=coordination_now(conn)))


def is_alive(op: OperationRow, *, now: dt.datetime, ttl_s: float) -> bool:
    """Whether running operation ``op`` still has a process at work, by the rule of store/liveness.py
    (a row that never had a heartbeat is judged by its start)."""
    return not gone(Identity(op.host, op.boot_id or "", op.pid), beat=op.heartbeat_at or op.started_at, now=now,
                    ttl_s=ttl_s)


def live_operations(store: Store, *, limit: int = 50, settings: Settings | None = None) -> list[OperationRow]:
    """Running operations whose process is still at work, newest first (nothing is changed)."""
    ttl_s = (settings or Settings.from_env()).lease_ttl_s
    query = (sa.select(tables.operations).where(tables.operations.c.status == "running")
             .order_by(tables.operations.c.id.desc()).limit(limit))
    with store.connect() as conn:
        current = coordination_now(conn)
        return [op for op in map(row_to_operation, conn.execute(query).all()) if is_alive(op, now=current, ttl_s=ttl_s)]


def finish_operation(
    store: Store, op_id: int, *, status: str, error: str | None = None, summary: dict[str, Any] | None = None
) -> None:
    with store.begin() as conn:
        conn.execute(
            tables.operations.update()
            .where(tables.operations.c.id == op_id)
            .values(status=status, finished_at=now(), error=error, summary=summary)
        )


def step_intent(store: Store, op_id: int, *, name: str, target: str, detail: str | None = None) -> int:
    """Record that a step is about to act; return the step id."""
    with store.begin() as conn:
        seq = conn.execute(
            sa.select(sa.func.count()).select_from(tables.steps).where(tables.steps.c.operation_id == op_id)
        ).scalar_one()
        result = conn.execute(
            tables.steps.insert().values(
                operation_id=op_id,
                seq=int(seq) + 1,
                name=name,
                target=target,
                status="intent",
                attempts=0,
                started_at=now(),
                detail=detail,
            )
        )
        return int(result.inserted_primary_key[0])


def step_attempt(store: Store, step_id: int, *, attempts: int, error: str | None) -> None:
    with store.begin() as conn:
        conn.execute(tables.steps.update().where(tables.steps.c.id == step_id).values(attempts=attempts, error=error))


def step_finish(
    store: Store,
    step_id: int,
    *,
    status: str,
    duration_s: float,
    error: str | None = None,
    detail: str | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": now(), "duration_s": duration_s, "error": error}
    if detail is not None:
        values["detail"] = detail
    with store.begin() as conn:
        conn.execute(tables.steps.update().where(tables.steps.c.id == step_id).values(**values))


def mark_interrupted(store: Store, *, settings: Settings | None = None) -> list[OperationRow]:
    """Mark running operations whose process is gone as interrupted; return them.

    Gone: silent for longer than the lease TTL, or — at once — of this host with its pid gone
    (store/liveness.py). The update re-checks that the row is still running (another process may
    have marked it, or the operation finished, meanwhile)."""
    ttl_s = (settings or Settings.from_env()).lease_ttl_s
    found: list[OperationRow] = []
    with store.begin() as conn:
        current = coordination_now(conn)
        # A requested operation (store/requests.py) whose worker died is not interrupted: the next
        # worker claims and resumes it.
        rows = conn.execute(sa.select(tables.operations).where(tables.operations.c.status == "running",
                                                               tables.operations.c.request.is_(None))).all()
        for op in map(row_to_operation, rows):
            if is_alive(op, now=current, ttl_s=ttl_s):
                continue
            marked = conn.execute(
                tables.operations.update()
                .where(tables.operations.c.id == op.id, tables.operations.c.status == "running")
                .values(
                    status="interrupted",
                    finished_at=now(),
                    error="the process running it stopped (killed or crashed) before it finished",
                )
            )
            if marked.rowcount != 1:
                continue
            conn.execute(
                tables.steps.update()
                .where(tables.steps.c.operation_id == op.id, tables.steps.c.status == "intent")
                .values(status="interrupted", finished_at=now())
            )
            found.append(op)
    return found


def operations(
    store: Store, *, limit: int = 50, kind: str | None = None, target: str | None = None
) -> list[OperationRow]:
    query = sa.select(tables.operations).order_by(tables.operations.c.id.desc()).limit(limit)
    if kind:
        query = query.where(tables.operations.c.kind == kind)
    if target:
        query = query.where(tables.operations.c.target == target)
    with store.connect() as conn:
        return [row_to_operation(r) for r in conn.execute(query).all()]


def operation(store: Store, op_id: int) -> OperationRow | None:
    with store.connect() as conn:
        row = conn.execute(sa.select(tables.operations).where(tables.operations.c.id == op_id)).first()
    return None if row is None else row_to_operation(row)


def steps(store: Store, op_id: int) -> list[StepRow]:
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(tables.steps).where(tables.steps.c.operation_id == op_id).order_by(tables.steps.c.seq)
        ).all()
    return [_step(r) for r in rows]


def first_done(store: Store, targets: list[str]) -> dict[str, dt.datetime]:
    """When a step on each of ``targets`` first succeeded (its environment's first provisioning)."""
    s = tables.steps
    with store.connect() as conn:
        rows = conn.execute(sa.select(s.c.target, sa.func.min(s.c.finished_at))
                            .where(s.c.target.in_(targets), s.c.status == "done").group_by(s.c.target)).all()
    out = {}
    for target, ts in rows:
        value = aware(ts)
        if value is not None:
            out[str(target)] = value
    return out
