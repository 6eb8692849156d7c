"""The register of temporary artifacts: every scratch database, sandbox directory, staged
filestore and pending swap is recorded here *before* it is created and released once it is gone
(or has become permanent). What a killed operation registered and never released is a leftover:
reported by ``plan``/``status`` and cleaned up (or, for a swap, rolled forward) by the next run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware, now

Kind = Literal["database", "directory", "filestore", "storage", "swap", "process", "role"]


@dataclass(frozen=True)
class Temporary:
    id: int
    kind: str
    location: str  # cluster name for databases and swaps, "" for directories and filestores
    name: str
    target: str
    purpose: str
    operation_id: int | None
    created_at: dt.datetime
    data: dict[str, Any]

    def describe(self) -> str:
        what = {"database": "temporary database", "directory": "temporary directory", "filestore": "filestore",
                "storage": "Odoo data directory",
                "swap": "unfinished swap", "process": "sandbox process", "role": "role"}
        where = f" on cluster {self.location}" if self.location and self.kind not in ("directory", "storage") else ""
        origin = f"operation {self.operation_id}" if self.operation_id else "an operation"
        return f"{what.get(self.kind, self.kind)} {self.name}{where} ({self.purpose}, left by {origin})"


def _row(row: Any) -> Temporary:
    created = aware(row.created_at)
    assert created is not None
    return Temporary(row.id, row.kind, row.location, row.name, row.target, row.purpose, row.operation_id, created,
                     dict(row.data or {}))


def register(store: Store, *, kind: Kind, name: str, target: str, purpose: str, operation_id: int | None,
             location: str = "", data: dict[str, Any] | None = None) -> int:
    """Record a temporary artifact about to be created; return its id (pass it to :func:`release`)."""
    with store.begin() as conn:
        result = conn.execute(tables.temporaries.insert().values(
            kind=kind, location=location, name=name, target=target, purpose=purpose, operation_id=operation_id,
            created_at=now(), data=data or {}))
        return int(result.inserted_primary_key[0])


def release(store: Store, temp_id: int) -> None:
    """Forget a temporary artifact: it is gone, or it has become permanent."""
    with store.begin() as conn:
        conn.execute(tables.temporaries.delete().where(tables.temporaries.c.id == temp_id))


def all_registered(store: Store, *, target: str | None = None) -> list[Temporary]:
    query = sa.select(tables.temporaries).order_by(tables.temporaries.c.id)
    if target is not None:
        query = query.where(tables.temporaries.c.target == target)
    with store.connect() as conn:
        return [_row(r) for r in conn.execute(query).all()]


def leftovers(store: Store, *, target: str | None = None, including_operation: int | None = None) -> list[Temporary]:
    """Registered artifacts whose operation is no longer running (killed, failed or finished
    without releasing them), plus those of ``including_operation`` (an operation cleaning up after
    its own failure). Swaps first: rolling one forward consumes its temporary database."""
    running = sa.select(tables.operations.c.id).where(tables.operations.c.status == "running")
    if including_operation is not None:
        running = running.where(tables.operations.c.id != including_operation)
    query = sa.select(tables.temporaries).where(
        sa.or_(tables.temporaries.c.operation_id.is_(None), tables.temporaries.c.operation_id.not_in(running)))
    if target is not None:
        query = query.where(tables.temporaries.c.target == target)
    with store.connect() as conn:
        found = [_row(r) for r in conn.execute(query.order_by(tables.temporaries.c.id)).all()]
    return sorted(found, key=lambda t: (t.kind != "swap", t.id))
