"""``health``: a fleet sweep now — every environment's checks with the values that decided them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odooplane.actions import estate_file
from odooplane.errors import UsageError
from odooplane.operations import guardrails as guardrail_checks
from odooplane.operations import health as sweeping
from odooplane.operations import usage as metering
from odooplane.operations.context import Context
from odooplane.store import probes, sweepers


def matches(env: sweeping.EnvHealth, labels: dict[str, str]) -> bool:
    values = {**env.labels(), "placement": env.placement}
    return all(values.get(k) == v for k, v in labels.items())


def parse_labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--label {item!r}: use key=value (tier=production, business_unit=retail, …)")
        out[key.strip()] = value.strip()
    return out


def sweep_and_record(ctx: Context, *, tenant: str | None = None, observer: str = "cli",
                     share: sweepers.Share | None = None) -> sweeping.FleetHealth:
    """Sweep (``share``: this worker's part of the fleet, the pools' bounds on requests in flight
    divided among the sweepers) and record the results for ``status``."""
    share = share or sweepers.Share()
    envs = [e for e in ctx.valid.environments if (tenant is None or e.ref.tenant == tenant) and share.mine(str(e.ref))]
    fleet = sweeping.sweep(ctx, targets=envs, observer=observer, sweepers=share.count)
    probes.record(ctx.store, fleet.at, [(e.target, e.status, _recorded(e)) for e in fleet.environments])
    pools = [p for p in ctx.valid.pools if tenant is None and share.mine(metering.pool_target(p.name))]
    metering.record(ctx, fleet, envs, pools)
    # The guardrails against what was just recorded: the worker exports them (odooplane_guardrail_violated).
    fleet.guardrails = guardrail_checks.check(ctx, observed=True, targets=envs).findings
    return fleet


def _recorded(env: sweeping.EnvHealth) -> list[dict[str, Any]]:
    """The checks as kept in the probe history; the HTTP check also keeps /web/login latency via the edge."""
    login = next((v for name, labels, v in env.labelled if name == "env_http_latency_seconds"
                  and labels == {"path": "/web/login", "via": "edge"}), None)
    out: list[dict[str, Any]] = []
    for c in env.checks:
        item: dict[str, Any] = {"name": c.name, "status": c.status, "value": c.value, "detail": c.detail}
        if c.name == "http" and c.status == "ok" and login is not None:
            item["latency_ms"] = round(login * 1000, 1)
        out.append(item)
    return out


def run(path: Path | None, *, tenant: str | None = None, labels: list[str] | None = None,
        status: str | None = None) -> sweeping.FleetHealth:
    wanted = parse_labels(labels or [])
    if status and status not in sweeping.ORDER:
        raise UsageError(f"--status {status!r}: one of {', '.join(sweeping.ORDER)}")
    ctx = estate_file.context(path, kubernetes=False)
    try:
        fleet = sweep_and_record(ctx, tenant=tenant)
    finally:
        ctx.close()
    fleet.environments = [e for e in fleet.environments if matches(e, wanted) and (status is None or
                                                                                   e.status == status)]
    return fleet
