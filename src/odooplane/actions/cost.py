"""``cost report``: usage and cost by tenant, business unit, brand, site, cost centre, stage or
environment, for a month and as a trend over the months before it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from odooplane.access import Principal
from odooplane.actions import estate_file
from odooplane.actions.access import allowed, environment_subject, guard
from odooplane.errors import UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import cost
from odooplane.operations.context import Context
from odooplane.store import evidence, sleeping, usage

DIMENSIONS = cost.DIMENSIONS


@dataclass(frozen=True)
class Month:
    month: str
    start: dt.datetime
    end: dt.datetime
    environments: list[cost.EnvCost]
    lines: list[cost.Line]

    @property
    def total(self) -> float:
        return sum(line.total for line in self.lines)


@dataclass(frozen=True)
class CostReport:
    currency: str
    by: str
    months: list[Month]  # oldest first; the last is the month asked for


def _months_back(month: str, count: int) -> list[str]:
    year, number = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return out[::-1]


def report(path: Path | None, *, month: str | None = None, months: int = 1, by: str = "tenant") -> CostReport:
    ctx = estate_file.context(path)
    try:
        envs = list(ctx.valid.environments)
        guard(ctx, "cost.read", envs)
        return report_in(ctx, envs, month=month, months=months, by=by)
    finally:
        ctx.close()


def report_for(ctx: Context, principal: Principal, *, month: str | None = None, months: int = 1,
               by: str = "tenant") -> CostReport:
    """The service's report: the environments in ``principal``'s scope only."""
    from odooplane.actions.access import authorize

    envs = [e for e in ctx.valid.environments if allowed(principal, "cost.read", environment_subject(e))]
    if not envs:
        authorize(ctx, principal, "cost.read")  # refused and audited: it sees nothing
    return report_in(ctx, envs, month=month, months=months, by=by)


def _allocated(ctx: Context, start: dt.datetime, end: dt.datetime) -> list[cost.EnvCost]:
    """Every environment's cost (a pool's hours are split among all its tenants, whoever asks)."""
    envs = list(ctx.valid.environments)
    hours = usage.hours(ctx.store, start=start, end=end)
    backups = evidence.between(ctx.store, targets=[str(e.ref) for e in envs],
                               start=dt.datetime(1970, 1, 1, tzinfo=dt.UTC), end=end, kinds=("backup",))
    until = min(end, ctx.clock.now())
    asleep = cost.asleep_hours(sleeping.history(ctx.store, end=until), start=start, end=until)
    return cost.allocate(envs, hours, backups, start=start, end=end, prices=ctx.estate.cost.price_book,
                         until=until, asleep=asleep)


def report_in(ctx: Context, envs: list[DesiredEnvironment], *, month: str | None, months: int,
              by: str) -> CostReport:
    if by not in cost.DIMENSIONS:
        raise UsageError(f"--by {by!r}: one of {', '.join(cost.DIMENSIONS)}")
    if not 1 <= months <= 24:
        raise UsageError(f"--months {months}: 1 to 24")
    month = month or f"{ctx.clock.now():%Y-%m}"
    try:
        cost.month_span(month)
    except ValueError as exc:
        raise UsageError(f"--month: {exc}") from None
    shown = {str(e.ref) for e in envs}
    out = []
    for name in _months_back(month, months):
        start, end = cost.month_span(name)
        costs = [c for c in _allocated(ctx, start, end) if c.target in shown]
        out.append(Month(name, start, end, costs, cost.group(costs, by)))
    return CostReport(ctx.estate.cost.currency, by, out)
