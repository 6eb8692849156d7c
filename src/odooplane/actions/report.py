"""``report health``: the fleet status page from a sweep now and the probe history of the last hours."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from odooplane import clock
from odooplane.actions import estate_file
from odooplane.actions import health as health_action
from odooplane.errors import UsageError
from odooplane.files import atomic_write
from odooplane.operations import health as sweeping
from odooplane.render import report as page
from odooplane.store import probes

SLOTS_PER_HOUR = 2


@dataclass(frozen=True)
class Written:
    report: page.HealthReport
    path: Path | None
    sweeps: int


def _latency(checks: list[dict[str, object]]) -> float | None:
    for check in checks:
        value = check.get("latency_ms")
        if check.get("name") == "http" and isinstance(value, (int, float)):
            return float(value)
    return None


def _http_ok(checks: list[dict[str, object]]) -> bool | None:
    for check in checks:
        if check.get("name") == "http":
            return check.get("status") == "ok"
    return None


def build(title: str, *, fleet: sweeping.FleetHealth | None, history: list[probes.ProbeRow],
          order: Sequence[tuple[str, str, str, str]], now: dt.datetime, hours: int) -> page.HealthReport:
    """``order``: (target, tenant, tier, business unit) of every environment of the estate, in estate order."""
    slot_len = dt.timedelta(hours=1) / SLOTS_PER_HOUR
    count = hours * SLOTS_PER_HOUR
    start = now - slot_len * count
    by_target: dict[str, list[probes.ProbeRow]] = {}
    for row in sorted(history, key=lambda r: r.ts):
        if start <= row.ts <= now:
            by_target.setdefault(row.target, []).append(row)
    current = {e.target: e for e in fleet.environments} if fleet else {}
    tenants: dict[str, list[page.EnvRow]] = {}
    meta: dict[str, tuple[str, str]] = {}
    for target, tenant, tier, business_unit in order:
        rows = by_target.get(target, [])
        worst: list[str | None] = [None] * count
        sweeps = [0] * count
        latency: list[list[float]] = [[] for _ in range(count)]
        for row in rows:
            i = min(int((row.ts - start) / slot_len), count - 1)
            sweeps[i] += 1
            if worst[i] is None or page.ORDER.get(row.status, 1) > page.ORDER.get(worst[i] or "ok", 0):
                worst[i] = row.status
            if (ms := _latency(row.checks)) is not None:
                latency[i].append(ms)
        slots = []
        for i in range(count):
            at = (start + slot_len * i).astimezone(dt.UTC)
            lat = latency[i]
            slots.append(page.Slot(label=at.strftime("%d %b %H:%M UTC"), status=worst[i], sweeps=sweeps[i],
                                   latency_ms=sorted(lat)[len(lat) // 2] if lat else None))
        answered = [ok for ok in (_http_ok(r.checks) for r in rows) if ok is not None]
        now_env = current.get(target)
        status = now_env.status if now_env else (rows[-1].status if rows else "unknown")
        if now_env:
            failing = [f"{c.name}: {c.detail or c.value}" for c in now_env.failing]
        else:
            last = rows[-1].checks if rows else []
            failing = [f"{c.get('name')}: {c.get('detail') or c.get('value')}" for c in last
                       if c.get("status") in ("warning", "critical")]
        placement = now_env.placement.replace("shared:", "pool ") if now_env else ""
        tenants.setdefault(tenant, []).append(page.EnvRow(
            target=target, environment=target.split("/", 1)[1], placement=placement, status=status,
            failing=failing, slots=slots,
            availability=(sum(answered) / len(answered)) if answered else None))
        meta.setdefault(tenant, (tier, business_unit))
    host: list[tuple[str, str, str]] = [(c.name, str(c.status), c.detail) for c in fleet.host_checks] if fleet else []
    return page.HealthReport(
        title=title, generated_at=now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        window_hours=hours, host=host,
        tenants=[page.TenantRow(tenant=t, tier=meta[t][0], business_unit=meta[t][1], environments=envs)
                 for t, envs in tenants.items()])


def health(path: Path | None, *, output: Path | None, hours: int = 24, sweep: bool = True,
           tenant: str | None = None) -> Written:
    """Sweep now (unless ``sweep`` is off), then render the page from the store's probe history."""
    if not 1 <= hours <= 48:
        raise UsageError(f"--hours {hours}: between 1 and 48 (the store keeps 48 hours of probe results)")
    if output is not None and output.is_dir():
        raise UsageError(f"--html {output}: is a directory; give a file name such as health.html")
    ctx = estate_file.context(path)
    try:
        fleet = health_action.sweep_and_record(ctx, tenant=tenant) if sweep else None
        now = fleet.at if fleet else clock.utcnow()
        history = probes.history(ctx.store, since=now - dt.timedelta(hours=hours))
        envs = [e for e in ctx.valid.environments if tenant is None or e.ref.tenant == tenant]
        order = [(str(e.ref), e.ref.tenant, e.labels.tier, e.labels.business_unit or "") for e in envs]
        report = build(ctx.estate.platform.name, fleet=fleet, history=history, order=order, now=now, hours=hours)
    finally:
        ctx.close()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, page.render_html(report))
    return Written(report=report, path=output, sweeps=len({r.ts for r in history}))
