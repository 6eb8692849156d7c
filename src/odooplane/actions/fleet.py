"""Reads of the fleet for the service (API and dashboard): tenants, environments, operations,
health, evidence and audit — filtered to what the principal may see, paged by a cursor (the last
name or id of the previous page), and answered from the estate and the state store's indexed tables
(no process is asked: health comes from the worker's last sweep), so a page costs the same at
5,000 environments as at 5."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from odooplane.access import Principal
from odooplane.actions.access import (
    allowed,
    authorize,
    environment_subject,
    hidden,
    target_subject,
    tenant_subject,
)
from odooplane.errors import NotFound, UsageError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.estate.validate import ValidEstate
from odooplane.operations.context import Context
from odooplane.store import audit, journal, probes, tables
from odooplane.store import evidence as evidence_store
from odooplane.store.db import aware

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # the cursor of the next page; None: this is the last


@dataclass(frozen=True)
class EnvSummary:
    """An environment as the estate declares it, with its health from the worker's last sweep
    (ok, warning, critical or unknown) and the release it runs."""

    target: str
    tenant: str
    environment: str
    stage: str
    placement: str
    pool: str | None
    hostnames: list[str]
    url: str
    labels: dict[str, str]
    health: str
    health_checked_at: str | None
    release: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TenantSummary:
    name: str
    display_name: str | None
    labels: dict[str, str]
    environments: list[str] = field(default_factory=list)  # those the principal may see

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit {limit}: between 1 and {MAX_LIMIT}")
    return limit


def _label_filter(labels: list[str]) -> dict[str, str]:
    out = {}
    for text in labels:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise UsageError(f"label {text!r}: expected key=value (business_unit=retail)")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class _Index:
    """The estate's environments and tenants sorted and keyed once per validated estate, so that a
    page costs a bisect and its own rows rather than a sort of the whole estate."""

    targets: list[str]  # sorted
    envs: dict[str, DesiredEnvironment]  # by target, in the order of targets
    labels: dict[str, dict[str, str]]  # by target
    tenant_names: list[str]  # sorted
    by_tenant: dict[str, list[DesiredEnvironment]]  # sorted by target
    tenant_labels: dict[str, dict[str, str]]


_INDEX: list[tuple[ValidEstate, _Index]] = []  # the index of the newest estate a read was made on


def _index(ctx: Context) -> _Index:
    cached = _INDEX[0] if _INDEX else None
    if cached is not None and cached[0] is ctx.valid:
        return cached[1]
    envs = {str(e.ref): e for e in sorted(ctx.valid.environments, key=lambda e: str(e.ref))}
    by_tenant: dict[str, list[DesiredEnvironment]] = {}
    for env in envs.values():
        by_tenant.setdefault(env.ref.tenant, []).append(env)
    built = _Index(
        targets=list(envs), envs=envs, labels={t: e.labels.as_dict() for t, e in envs.items()},
        tenant_names=sorted(ctx.estate.tenants), by_tenant=by_tenant,
        tenant_labels={n: t.labels.as_dict() for n, t in ctx.estate.tenants.items()})
    _INDEX[:] = [(ctx.valid, built)]
    return built


def _url(ctx: Context, env: DesiredEnvironment) -> str:
    edge = ctx.estate.platform.edge
    port = "" if edge.http_port == 80 else f":{edge.http_port}"
    return f"http://{env.hostnames[0]}{port}/"


def _summaries(ctx: Context, envs: list[DesiredEnvironment]) -> list[EnvSummary]:
    """The summaries of ``envs`` with their health and release, read for these targets only."""
    from odooplane.store import releases

    targets = [str(e.ref) for e in envs]
    health = probes.latest(ctx.store, targets=targets)
    release = releases.current_all(ctx.store, targets=targets)
    labels = _index(ctx).labels
    out = []
    for env, target in zip(envs, targets, strict=True):
        probe = health.get(target)
        out.append(EnvSummary(
            target=target, tenant=env.ref.tenant, environment=env.ref.env, stage=env.stage,
            placement=env.placement, pool=env.pool, hostnames=list(env.hostnames), url=_url(ctx, env),
            labels=dict(labels[target]), health=probe.status if probe else "unknown",
            health_checked_at=probe.ts.isoformat() if probe else None, release=release.get(target)))
    return out


def environments(ctx: Context, principal: Principal, *, tenant: str | None = None, labels: list[str] = (),  # type: ignore[assignment]
                 stage: str | None = None, status: str | None = None, after: str | None = None,
                 limit: int = 100) -> Page[EnvSummary]:
    """Environments in the principal's scope, sorted by ``tenant/env``, after the cursor."""
    limit = _limit(limit)
    wanted = _label_filter(list(labels))
    index = _index(ctx)
    statuses = probes.statuses(ctx.store) if status else {}
    candidates = index.targets if tenant is None else [str(e.ref) for e in index.by_tenant.get(tenant, [])]
    start = bisect.bisect_right(candidates, after) if after is not None else 0
    chosen: list[DesiredEnvironment] = []
    for ref in itertools.islice(candidates, start, None):
        env = index.envs[ref]
        if stage is not None and env.stage != stage:
            continue
        if wanted:
            env_labels = index.labels[ref]
            if any(env_labels.get(k) != v for k, v in wanted.items()):
                continue
        if status is not None and statuses.get(ref, "unknown") != status:
            continue
        if not allowed(principal, "fleet.read", environment_subject(env)):
            continue
        chosen.append(env)
        if len(chosen) > limit:
            break
    more = len(chosen) > limit
    chosen = chosen[:limit]
    return Page(_summaries(ctx, chosen), str(chosen[-1].ref) if more and chosen else None)


def environment(ctx: Context, principal: Principal, target: str) -> EnvSummary:
    env = _index(ctx).envs.get(target)
    if env is None:
        raise NotFound(f"environment {target} does not exist")
    if not allowed(principal, "fleet.read", environment_subject(env)):
        raise hidden(ctx, principal, "fleet.read", environment_subject(env), f"environment {target} does not exist")
    return _summaries(ctx, [env])[0]


def tenants(ctx: Context, principal: Principal, *, labels: list[str] = (), after: str | None = None,  # type: ignore[assignment]
            limit: int = 100) -> Page[TenantSummary]:
    limit = _limit(limit)
    wanted = _label_filter(list(labels))
    index = _index(ctx)
    start = bisect.bisect_right(index.tenant_names, after) if after is not None else 0
    out: list[TenantSummary] = []
    for name in itertools.islice(index.tenant_names, start, None):
        tenant_labels = index.tenant_labels[name]
        if any(tenant_labels.get(k) != v for k, v in wanted.items()):
            continue
        visible = [str(e.ref) for e in index.by_tenant.get(name, [])
                   if allowed(principal, "fleet.read", environment_subject(e))]
        if not visible:
            continue
        out.append(TenantSummary(name, ctx.estate.tenants[name].display_name, dict(tenant_labels), visible))
        if len(out) > limit:
            break
    more = len(out) > limit
    out = out[:limit]
    return Page(out, out[-1].name if more and out else None)


def tenant(ctx: Context, principal: Principal, name: str) -> tuple[TenantSummary, list[EnvSummary]]:
    found = ctx.estate.tenants.get(name)
    if found is None:
        raise NotFound(f"tenant {name} does not exist")
    index = _index(ctx)
    visible = [e for e in index.by_tenant.get(name, []) if allowed(principal, "fleet.read", environment_subject(e))]
    if not visible:
        raise hidden(ctx, principal, "fleet.read", tenant_subject(ctx.valid, name), f"tenant {name} does not exist")
    return (TenantSummary(name, found.display_name, dict(index.tenant_labels[name]), [str(e.ref) for e in visible]),
            _summaries(ctx, visible))


# -- operations --------------------------------------------------------------------------------
def _sees_target(ctx: Context, principal: Principal, right: str, target: str) -> bool:
    return principal.scope.unscoped or allowed(principal, right, target_subject(ctx.valid, target))


def operations(ctx: Context, principal: Principal, *, status: str | None = None, kind: str | None = None,
               target: str | None = None, before: int | None = None, limit: int = 50) -> Page[journal.OperationRow]:
    """Newest first; scoped principals see the operations of targets in their scope."""
    limit = _limit(limit)
    authorize(ctx, principal, "operations.read", target_subject(ctx.valid, target) if target else
              _first_subject(ctx, principal))
    journal.mark_interrupted(ctx.store)
    ops = tables.operations
    out: list[journal.OperationRow] = []
    cursor = before
    while len(out) <= limit:
        query = sa.select(ops).order_by(ops.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(ops.c.id < cursor)
        if status:
            query = query.where(ops.c.status == status)
        if kind:
            query = query.where(ops.c.kind == kind)
        if target:
            query = query.where(ops.c.target == target)
        with ctx.store.connect() as conn:
            rows = [journal.row_to_operation(r) for r in conn.execute(query).all()]
        if not rows:
            break
        out.extend(r for r in rows if _sees_target(ctx, principal, "operations.read", r.target))
        cursor = rows[-1].id
        if len(rows) <= limit:
            break
    more = len(out) > limit
    out = out[:limit]
    return Page(out, str(out[-1].id) if more and out else None)


def operation(ctx: Context, principal: Principal, op_id: int) -> tuple[journal.OperationRow, list[journal.StepRow]]:
    op = journal.operation(ctx.store, op_id)
    if op is None:
        raise NotFound(f"operation #{op_id} does not exist")
    if not _sees_target(ctx, principal, "operations.read", op.target):
        raise hidden(ctx, principal, "operations.read", target_subject(ctx.valid, op.target),
                     f"operation #{op_id} does not exist")
    return op, journal.steps(ctx.store, op_id)


# -- health, evidence, audit -------------------------------------------------------------------
def health(ctx: Context, principal: Principal, *, status: str | None = None) -> list[dict[str, Any]]:
    """The worker's last sweep, per environment in scope (what `odooplane health` shows, not probed now)."""
    latest = probes.latest(ctx.store)
    out = []
    for env in _index(ctx).envs.values():
        if not allowed(principal, "fleet.read", environment_subject(env)):
            continue
        probe = latest.get(str(env.ref))
        row_status = probe.status if probe else "unknown"
        if status is not None and row_status != status:
            continue
        out.append({"target": str(env.ref), "status": row_status, "checked_at": probe.ts.isoformat() if probe else None,
                    "checks": probe.checks if probe else []})
    return out


def evidence(ctx: Context, principal: Principal, *, target: str | None = None, kind: str | None = None,
             limit: int = 50) -> list[evidence_store.Evidence]:
    limit = _limit(limit)
    authorize(ctx, principal, "evidence.read", target_subject(ctx.valid, target) if target else
              _first_subject(ctx, principal))
    rows = evidence_store.query(ctx.store, kind=kind, target=target, limit=limit * 4 if target is None else limit)
    return [r for r in rows if _sees_target(ctx, principal, "evidence.read", r.target)][:limit]


def _first_subject(ctx: Context, principal: Principal) -> Any:
    """For a list across the estate by a scoped principal: the right is checked on one environment
    it may see (the list is then filtered); the estate as a whole when it sees none."""
    from odooplane.access import ESTATE

    for env in ctx.valid.environments:
        subject = environment_subject(env)
        if principal.scope.covers(subject):
            return subject
    return ESTATE


def audit_entries(ctx: Context, principal: Principal, *, before: int | None = None, target: str | None = None,
                  limit: int = 100) -> Page[audit.AuditEntry]:
    """The audit log, newest first: the whole of it for an unscoped principal, else what concerns
    targets in scope."""
    limit = _limit(limit)
    authorize(ctx, principal, "audit.read", target_subject(ctx.valid, target) if target else
              _first_subject(ctx, principal))
    rows = audit.entries(ctx.store, limit=limit + 1, target=target, before=before)
    rows = [r for r in rows if _sees_target(ctx, principal, "audit.read", r.target)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, str(rows[-1].id) if more and rows else None)


def verify_audit(ctx: Context, principal: Principal) -> dict[str, Any]:
    authorize(ctx, principal, "audit.read")
    bad = audit.verify_chain(ctx.store)
    head = audit.entries(ctx.store, limit=1)
    return {"intact": not bad, "bad_entries": bad, "head": head[0].hash if head else None,
            "entries": head[0].id if head else 0}


def estate_summary(ctx: Context, principal: Principal, problems: list[Any]) -> dict[str, Any]:
    authorize(ctx, principal, "estate.read")
    estate = ctx.estate
    return {
        "name": estate.platform.name, "path": str(ctx.valid.path), "driver": estate.platform.driver,
        "tenants": len(estate.tenants), "environments": len(ctx.valid.environments),
        "pools": sorted(p.name for p in ctx.valid.pools), "clusters": sorted(estate.clusters),
        "valid": not problems, "problems": [str(p) for p in problems],
        "loaded_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def when(value: dt.datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat() if value else None


def guardrail_findings(ctx: Context, principal: Principal, *, target: str | None = None,
                       status: str | None = None) -> tuple[dt.datetime, str, list[Any]]:
    """The guardrail findings of the environments in scope (observed state, waivers applied):
    (when checked, the estate's block_at, findings)."""
    from odooplane.operations import guardrails as checking

    authorize(ctx, principal, "policy.read", target_subject(ctx.valid, target) if target else
              _first_subject(ctx, principal))
    envs = [e for e in ctx.valid.environments if (target is None or str(e.ref) == target)
            and (principal.scope.unscoped or allowed(principal, "policy.read", environment_subject(e)))]
    report = checking.check(ctx, observed=True, targets=envs)
    findings = [f for f in report.findings if status is None or f.status == status]
    return report.at, report.block_at, findings
