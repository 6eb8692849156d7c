"""Usage metering: each sample of an environment (or a pool) is added to its hour's row — the
sums of what was sampled (cores, memory), the storage last seen, and what the counters grew by
(requests, database active time, bytes served). An hour's mean is its sum over its samples, so
irregular sampling (a worker restarted, two sweepers) averages out instead of counting twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from odooplane.store import tables
from odooplane.store.db import Store, aware

CHUNK = 500


@dataclass(frozen=True)
class Sample:
    target: str  # tenant/env, or pool:<name>
    cpu_cores: float | None  # None: not measured (the hour's mean is over the samples that were)
    memory_bytes: float | None
    storage_bytes: int | None
    requests: float = 0.0  # growth since the previous sample
    db_active_ms: float = 0.0
    egress_bytes: float = 0.0


@dataclass(frozen=True)
class Hour:
    hour: dt.datetime
    target: str
    samples: int
    cpu_cores_sum: float
    memory_bytes_sum: float
    storage_bytes: int
    requests: float
    db_active_ms: float
    egress_bytes: float

    @property
    def cores(self) -> float:
        return self.cpu_cores_sum / self.samples if self.samples else 0.0

    @property
    def memory_bytes(self) -> float:
        return self.memory_bytes_sum / self.samples if self.samples else 0.0


def hour_of(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def add(store: Store, at: dt.datetime, samples: Iterable[Sample]) -> None:
    """Add ``samples`` taken at ``at`` to their hour (one transaction)."""
    hour = hour_of(at)
    by_target = {s.target: s for s in samples}
    u = tables.usage_hours
    names = list(by_target)
    with store.begin() as conn:
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            found = {r.target: r for r in conn.execute(sa.select(u).where(u.c.hour == hour, u.c.target.in_(chunk)))}
            if found:
                conn.execute(u.delete().where(u.c.hour == hour, u.c.target.in_(list(found))))
            rows = []
            for name in chunk:
                s, old = by_target[name], found.get(name)
                measured = s.cpu_cores is not None or s.memory_bytes is not None
                rows.append({
                    "hour": hour, "target": name,
                    "samples": (old.samples if old else 0) + (1 if measured else 0),
                    "cpu_cores_sum": (old.cpu_cores_sum if old else 0.0) + (s.cpu_cores or 0.0),
                    "memory_bytes_sum": (old.memory_bytes_sum if old else 0.0) + (s.memory_bytes or 0.0),
                    "storage_bytes": s.storage_bytes if s.storage_bytes is not None else (
                        old.storage_bytes if old else 0),
                    "requests": (old.requests if old else 0.0) + s.requests,
                    "db_active_ms": (old.db_active_ms if old else 0.0) + s.db_active_ms,
                    "egress_bytes": (old.egress_bytes if old else 0.0) + s.egress_bytes,
                })
            conn.execute(u.insert(), rows)


def hours(store: Store, *, start: dt.datetime, end: dt.datetime) -> list[Hour]:
    """Every hour row in [start, end)."""
    u = tables.usage_hours
    with store.connect() as conn:
        rows = conn.execute(sa.select(u).where(u.c.hour >= start, u.c.hour < end)).all()
    out = []
    for r in rows:
        hour = aware(r.hour)
        assert hour is not None
        out.append(Hour(hour, r.target, r.samples, r.cpu_cores_sum, r.memory_bytes_sum, int(r.storage_bytes),
                        r.requests, r.db_active_ms, r.egress_bytes))
    return out


def growth(store: Store, at: dt.datetime, readings: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Record the counters' new ``readings`` (key → value) and return, for each key read before,
    (growth since, seconds since). A counter that went down was restarted: its growth is its value."""
    c = tables.usage_counters
    keys = list(readings)
    out: dict[str, tuple[float, float]] = {}
    with store.begin() as conn:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start:start + CHUNK]
            before = {r.key: r for r in conn.execute(sa.select(c).where(c.c.key.in_(chunk)))}
            for key in chunk:
                old = before.get(key)
                if old is None:
                    continue
                then = aware(old.at)
                assert then is not None
                value = readings[key]
                out[key] = (value - old.value if value >= old.value else value, (at - then).total_seconds())
            if before:
                conn.execute(c.delete().where(c.c.key.in_(list(before))))
            conn.execute(c.insert(), [{"key": k, "value": readings[k], "at": at} for k in chunk])
    return out
