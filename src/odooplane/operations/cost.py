"""Cost allocation: what each environment used in a month, priced by the estate's price book.

Compute (vCPU-hours, GiB-hours) is an hour's mean of the samples times one hour, summed over the
hours that have samples. A pooled environment gets a share of its pool's compute each hour by its
measured activity — half by its requests through the edge, half by its database's active time
(the halves whose totals are zero are left out; with no activity at all the hour is split evenly,
and the environment's basis says so). Storage (database + filestore) is averaged over the month's
hours; backups are the newest confirmed backup in each repository, from the month (or its first
backup) on; egress is what the edge served."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from odooplane.estate.models import PriceBook
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.store.evidence import Evidence
from odooplane.store.usage import Hour

GIB = 1024**3
GB = 1000**3
DIMENSIONS = ("tenant", "business_unit", "brand", "site", "cost_centre", "stage", "environment")


@dataclass
class EnvCost:
    target: str
    tenant: str
    stage: str
    placement: str
    labels: dict[str, str]
    vcpu_hours: float = 0.0
    gib_hours: float = 0.0
    storage_gb_month: float = 0.0
    backup_gb_month: float = 0.0
    egress_gb: float = 0.0
    requests: float = 0.0
    db_active_s: float = 0.0
    measured_hours: int = 0  # hours with a compute sample (its own, or its pool's)
    basis: str = "measured"  # measured | pool share by activity | pool split evenly | not measured
    even_hours: int = 0
    compute: float = 0.0
    storage: float = 0.0
    backup: float = 0.0
    egress: float = 0.0
    asleep_hours: float = 0.0  # stopped by its sleep schedule
    savings: float = 0.0  # its compute per measured (awake) hour, times the hours it slept

    @property
    def total(self) -> float:
        return self.compute + self.storage + self.backup + self.egress

    def key(self, by: str) -> str:
        if by == "environment":
            return self.target
        if by == "tenant":
            return self.tenant
        if by == "stage":
            return self.stage
        return self.labels.get(by) or "(none)"


@dataclass
class Line:
    """One group of a report (a tenant, a business unit…): the sums of its environments."""

    key: str
    environments: int = 0
    vcpu_hours: float = 0.0
    gib_hours: float = 0.0
    storage_gb_month: float = 0.0
    backup_gb_month: float = 0.0
    egress_gb: float = 0.0
    compute: float = 0.0
    storage: float = 0.0
    backup: float = 0.0
    egress: float = 0.0
    total: float = 0.0
    asleep_hours: float = 0.0
    savings: float = 0.0
    bases: list[str] = field(default_factory=list)


def month_span(month: str) -> tuple[dt.datetime, dt.datetime]:
    """``2026-11`` → [2026-11-01, 2026-12-01) in UTC; ValueError otherwise."""
    year, _, number = month.partition("-")
    if len(year) != 4 or len(number) != 2 or not (year.isdigit() and number.isdigit()) or not 1 <= int(number) <= 12:
        raise ValueError(f"{month!r} is not a month (2026-11)")
    start = dt.datetime(int(year), int(number), 1, tzinfo=dt.UTC)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + dt.timedelta(days=days)


def allocate(envs: Sequence[DesiredEnvironment], hours: Sequence[Hour], backups: Sequence[Evidence], *,
             start: dt.datetime, end: dt.datetime, prices: PriceBook,
             until: dt.datetime | None = None, asleep: dict[str, float] | None = None) -> list[EnvCost]:
    """Each environment's usage and cost over [start, end) (``hours``: its rows and its pools'), as
    known at ``until`` (the month so far: backups are kept until then, not to the month's end)."""
    kept_until = min(end, until) if until is not None else end
    span_h = (end - start).total_seconds() / 3600
    by_target: dict[str, list[Hour]] = defaultdict(list)
    for h in hours:
        by_target[h.target].append(h)
    out = {str(e.ref): EnvCost(str(e.ref), e.ref.tenant, e.stage, "shared" if e.pool else "dedicated",
                               {k: str(v) for k, v in e.labels.model_dump().items() if v is not None})
           for e in envs}
    for env in envs:
        c = out[str(env.ref)]
        for h in by_target.get(str(env.ref), []):
            c.requests += h.requests
            c.db_active_s += h.db_active_ms / 1000
            c.egress_gb += h.egress_bytes / GB
            c.storage_gb_month += h.storage_bytes / GB / span_h
            if env.pool is None and h.samples:
                c.vcpu_hours += h.cores
                c.gib_hours += h.memory_bytes / GIB
                c.measured_hours += 1
    # Pools: each hour's compute split among its members by what they did in that hour.
    members: dict[str, list[DesiredEnvironment]] = defaultdict(list)
    for env in envs:
        if env.pool is not None:
            members[env.pool].append(env)
    for pool, its in members.items():
        activity = {(h.hour, h.target): h for t in (str(e.ref) for e in its) for h in by_target.get(t, [])}
        for h in by_target.get(f"pool:{pool}", []):
            if not h.samples:
                continue
            acts = [activity.get((h.hour, str(e.ref))) for e in its]
            reqs = [a.requests if a else 0.0 for a in acts]
            dbms = [a.db_active_ms if a else 0.0 for a in acts]
            parts = [[r / sum(reqs) for r in reqs]] if sum(reqs) > 0 else []
            parts += [[d / sum(dbms) for d in dbms]] if sum(dbms) > 0 else []
            even = not parts
            weights = ([sum(p[i] for p in parts) / len(parts) for i in range(len(its))] if parts
                       else [1 / len(its)] * len(its))
            for env, weight in zip(its, weights, strict=True):
                c = out[str(env.ref)]
                c.vcpu_hours += h.cores * weight
                c.gib_hours += h.memory_bytes / GIB * weight
                c.measured_hours += 1
                c.even_hours += 1 if even else 0
    # Backups: the newest confirmed backup of each repository, kept from the month's start (or the
    # first backup in the month) to its end.
    newest: dict[tuple[str, str], Evidence] = {}
    first: dict[str, dt.datetime] = {}
    for b in sorted(backups, key=lambda e: e.ts):
        if not b.ok or b.ts >= end:
            continue
        newest[(b.target, str(b.data.get("repository", "")))] = b
        first.setdefault(b.target, b.ts)
    for (target, _repo), b in newest.items():
        if target not in out:
            continue
        kept_from = max(start, first[target])
        share = max(0.0, (kept_until - kept_from).total_seconds() / 3600) / span_h
        out[target].backup_gb_month += float(b.data.get("bytes", 0)) / GB * share
    for c in out.values():
        c.compute = c.vcpu_hours * prices.vcpu_hour + c.gib_hours * prices.gib_hour
        c.storage = c.storage_gb_month * prices.storage_gb_month
        c.backup = c.backup_gb_month * prices.backup_gb_month
        c.egress = c.egress_gb * prices.egress_gb
        c.asleep_hours = (asleep or {}).get(c.target, 0.0)
        if c.measured_hours:
            c.savings = c.compute / c.measured_hours * c.asleep_hours
        if c.measured_hours == 0:
            c.basis = "not measured"
        elif c.placement == "shared":
            c.basis = "pool split evenly" if c.even_hours == c.measured_hours else "pool share by activity"
    return list(out.values())


def group(costs: Sequence[EnvCost], by: str) -> list[Line]:
    lines: dict[str, Line] = {}
    for c in costs:
        line = lines.setdefault(c.key(by), Line(c.key(by)))
        line.environments += 1
        for name in ("vcpu_hours", "gib_hours", "storage_gb_month", "backup_gb_month", "egress_gb", "compute",
                     "storage", "backup", "egress", "asleep_hours", "savings"):
            setattr(line, name, getattr(line, name) + getattr(c, name))
        line.total += c.total
        if c.basis not in line.bases:
            line.bases.append(c.basis)
    return sorted(lines.values(), key=lambda line: (-line.total, line.key))


def asleep_hours(events: Sequence[tuple[str, dt.datetime, bool]], *, start: dt.datetime,
                 end: dt.datetime) -> dict[str, float]:
    """Hours each target slept within [start, end), from its sleep and wake events (oldest first)."""
    out: dict[str, float] = defaultdict(float)
    since: dict[str, dt.datetime] = {}
    for target, at, asleep in events:
        if asleep:
            since.setdefault(target, at)
        elif target in since:
            began = since.pop(target)
            out[target] += max(0.0, (min(at, end) - max(began, start)).total_seconds() / 3600)
    for target, began in since.items():
        out[target] += max(0.0, (end - max(began, start)).total_seconds() / 3600)
    return dict(out)
