"""What the dashboard shows and does, for one principal: the fleet with its backups and restore
proofs, a tenant's page (health checks, backups, proofs, history, logs, caught mail), credentials
revealed (audited), the approvals inbox (approve or reject, never one's own request) and drills."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from odooplane.access import Principal
from odooplane.actions import fleet
from odooplane.actions.access import allowed, authorize, environment_subject, hidden, target_subject
from odooplane.errors import NotFound, UsageError
from odooplane.estate.change import PersonRoles
from odooplane.estate.resolve import DesiredEnvironment, EnvRef
from odooplane.operations.context import Context
from odooplane.store import audit, evidence, journal, probes, releases

STATUSES = ("ok", "warning", "critical", "unknown")


def age(value: dt.datetime | None, at: dt.datetime) -> str:
    """``3 h`` / ``2 d`` / ``never``: how long ago, for a person."""
    if value is None:
        return "never"
    seconds = max(0, int((at - value).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@dataclass(frozen=True)
class FleetRow:
    env: fleet.EnvSummary
    last_backup: dt.datetime | None
    backup_failing: bool
    last_proof: dt.datetime | None
    proof_failing: bool


@dataclass(frozen=True)
class Fleet:
    rows: list[FleetRow]
    counts: dict[str, int]
    groups: dict[str, list[FleetRow]]
    group_by: str
    next: str | None
    at: dt.datetime


def fleet_view(ctx: Context, principal: Principal, *, group_by: str = "business_unit", status: str | None = None,
               labels: Iterable[str] = (), after: str | None = None, limit: int = 200) -> Fleet:
    """The environments in scope with health, placement, release, backups and restore proofs, grouped
    by a label (``business_unit``, ``site``, ``brand``), or by tenant."""
    if group_by not in ("business_unit", "site", "brand", "tenant"):
        raise UsageError(f"group by {group_by!r}: business_unit, site, brand or tenant")
    page = fleet.environments(ctx, principal, status=status, labels=list(labels), after=after, limit=limit)
    newest = evidence.newest(ctx.store, ("backup", "restore-verification"))
    rows = []
    for env in page.items:
        ok_backup = newest.get((env.target, "backup", True))
        bad_backup = newest.get((env.target, "backup", False))
        ok_proof = newest.get((env.target, "restore-verification", True))
        bad_proof = newest.get((env.target, "restore-verification", False))
        rows.append(FleetRow(env, ok_backup, bool(bad_backup and (ok_backup is None or bad_backup > ok_backup)),
                             ok_proof, bool(bad_proof and (ok_proof is None or bad_proof > ok_proof))))
    counts = dict.fromkeys(STATUSES, 0)
    groups: dict[str, list[FleetRow]] = {}
    for row in rows:
        counts[row.env.health if row.env.health in counts else "unknown"] += 1
        key = row.env.tenant if group_by == "tenant" else row.env.labels.get(group_by, "(none)")
        groups.setdefault(key, []).append(row)
    return Fleet(rows, counts, dict(sorted(groups.items())), group_by, page.next, ctx.clock.now())


@dataclass(frozen=True)
class EnvPage:
    env: fleet.EnvSummary
    checks: list[dict[str, Any]]
    backups: list[evidence.Evidence]
    proofs: list[evidence.Evidence]
    history: list[journal.OperationRow]
    logs: list[str]
    mail: list[dict[str, Any]]
    may_reveal: bool
    may_backup: bool


@dataclass(frozen=True)
class TenantPage:
    tenant: fleet.TenantSummary
    environments: list[EnvPage] = field(default_factory=list)


def _env(ctx: Context, target: str) -> DesiredEnvironment:
    try:
        ref = EnvRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env = ctx.valid.environment(ref)
    if env is None:
        raise NotFound(f"environment {target} does not exist")
    return env


def tenant_page(ctx: Context, principal: Principal, name: str) -> TenantPage:
    summary, envs = fleet.tenant(ctx, principal, name)
    latest = probes.latest(ctx.store)
    out = []
    for env in envs:
        desired = _env(ctx, env.target)
        subject = environment_subject(desired)
        probe = latest.get(env.target)
        may_see_backups = allowed(principal, "backups.read", subject)
        ops = [o for o in journal.operations(ctx.store, limit=10, target=env.target)]
        out.append(EnvPage(
            env=env, checks=list(probe.checks) if probe else [],
            backups=evidence.query(ctx.store, kind="backup", target=env.target, limit=5) if may_see_backups else [],
            proofs=(evidence.query(ctx.store, kind="restore-verification", target=env.target, limit=5)
                    if allowed(principal, "evidence.read", subject) else []),
            history=ops, logs=_logs(ctx, principal, desired), mail=_mail(ctx, principal, desired),
            may_reveal=allowed(principal, "secrets.reveal", subject),
            may_backup=allowed(principal, "backups.run", subject) and desired.backup_policy is not None))
    return TenantPage(summary, out)


def _logs(ctx: Context, principal: Principal, env: DesiredEnvironment) -> list[str]:
    """The last lines of the environment's Odoo log (for those who may open a shell on it: logs
    show what its users do)."""
    if not allowed(principal, "shell", environment_subject(env)):
        return []
    from odooplane.actions import logs

    lines = logs.read(logs.sources_for(ctx.valid, str(env.ref), ("odoo",)), logs.LogQuery(lines=30))
    return [f"{line.at:%H:%M:%S} {line.level:<8} {line.text}" if line.at else line.text for line in lines]


def _mail(ctx: Context, principal: Principal, env: DesiredEnvironment) -> list[dict[str, Any]]:
    """Mail the environment sent and the platform caught (never production's: it is delivered)."""
    if env.stage in ("production", "dr") or not allowed(principal, "fleet.read", environment_subject(env)):
        return []
    from odooplane.operations import mail

    return [{"subject": m.subject, "sender": m.sender, "to": ", ".join(m.recipients), "date": m.date}
            for m in mail.messages(ctx, env, limit=10)]


@dataclass(frozen=True)
class Revealed:
    target: str
    url: str
    login: str
    password: str


def reveal(ctx: Context, principal: Principal, target: str) -> Revealed:
    """An environment's admin login and password, for a principal with ``secrets.reveal`` (and its
    ``.production`` variant in production); every reveal is in the audit log."""
    from odooplane.operations.desired import base_url, secret_name

    env = _env(ctx, target)
    if not allowed(principal, "fleet.read", environment_subject(env)):
        raise hidden(ctx, principal, "secrets.reveal", environment_subject(env), f"environment {target} does not exist")
    authorize(ctx, principal, "secrets.reveal", environment_subject(env))
    password = ctx.secrets.get(secret_name(env, "admin_user_password"))
    if password is None:
        raise NotFound(f"{target}: not provisioned yet")
    audit.record(ctx.store, actor=principal.actor, action="reveal credentials", target=target, outcome="ok",
                 detail={"login": "admin"})
    return Revealed(target, f"{base_url(ctx, env)}/web/login", "admin", password)


# -- approvals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pending:
    change: int
    target: str
    release: str | None
    from_release: str | None
    requester: str
    requested_at: dt.datetime
    approvals: list[str]
    own: bool  # the principal requested it: it may not approve it


def _closed(ctx: Context) -> set[int]:
    return {int(e.detail["change"]) for e in releases.events(ctx.store, kinds=("request",), limit=2000)
            if e.status != "open" and e.detail.get("change") is not None}


def approvals(ctx: Context, principal: Principal) -> list[Pending]:
    """Open promotion requests on environments in scope, oldest first."""
    closed = _closed(ctx)
    given: dict[int, list[str]] = {}
    for e in releases.events(ctx.store, kinds=("approval",), limit=2000):
        if e.status == "ok" and e.detail.get("change") is not None:
            given.setdefault(int(e.detail["change"]), []).append(e.actor)
    out = []
    for e in releases.events(ctx.store, kinds=("request",), limit=2000):
        if e.status != "open" or e.id in closed:
            continue
        if not allowed(principal, "fleet.read", target_subject(ctx.valid, e.target)):
            continue
        out.append(Pending(e.id, e.target, e.release, e.from_release, e.actor, e.ts, given.get(e.id, []),
                           e.actor == principal.actor))
    return sorted(out, key=lambda p: p.change)


def decide(ctx: Context, principal: Principal, change: int, *, approve: bool, reason: str = "") -> releases.Event:
    """Approve or reject promotion request ``change`` as ``principal``: needs ``releases.approve`` on
    its environment; refused (and audited) for the one who requested it, and — as `odooplane approve`
    — for a person outside the roles its change policy names."""
    from odooplane.actions.releases import approvals_of

    request = releases.event(ctx.store, change)
    if request is None or request.kind != "request":
        raise NotFound(f"change #{change} does not exist")
    subject = target_subject(ctx.valid, request.target)
    authorize(ctx, principal, "releases.approve", subject)
    if request.status != "open" or change in _closed(ctx):
        raise UsageError(f"change #{change} is no longer open")
    verb = "approval" if approve else "rejection"
    if request.actor == principal.actor:
        audit.record(ctx.store, actor=principal.actor, action=verb, target=request.target, outcome="refused",
                     detail={"change": change, "reason": "separation of duties"})
        raise UsageError(f"separation of duties: {principal.actor} requested change #{change} and cannot decide it")
    env = _env(ctx, request.target)
    found = ctx.estate.change_management.policy_for(stage=env.stage, tier=env.labels.tier)
    rule = found[1].approvals if found else None
    held = set(ctx.estate.change_management.people.get(principal.name, PersonRoles()).roles)
    if rule is not None and rule.roles and not held & set(rule.roles):
        audit.record(ctx.store, actor=principal.actor, action=verb, target=request.target, outcome="refused",
                     detail={"change": change, "reason": "role"})
        raise UsageError(f"{principal.name} holds none of the roles that decide change #{change} "
                         f"({', '.join(rule.roles)}; change_management.people)")
    if approve:
        if any(a.person == principal.actor for a in approvals_of(ctx, change)):
            raise UsageError(f"{principal.actor} already approved change #{change}")
        event_id = releases.add(ctx.store, target=request.target, kind="approval", status="ok", actor=principal.actor,
                                release=request.release, detail={"change": change})
    else:
        event_id = releases.add(ctx.store, target=request.target, kind="request", status="rejected",
                                actor=principal.actor, release=request.release,
                                detail={"change": change, "reason": reason[:500]})
    audit.record(ctx.store, actor=principal.actor, action=verb, target=request.target, outcome="ok",
                 detail={"change": change, "release": request.release})
    done = releases.event(ctx.store, event_id)
    assert done is not None
    return done


def drills(ctx: Context, principal: Principal, *, limit: int = 50) -> list[evidence.Evidence]:
    """Disaster-recovery drills (measured RPO and RTO) of environments in scope, newest first."""
    rows = evidence.query(ctx.store, kind="drill", limit=limit * 4)
    return [r for r in rows if allowed(principal, "evidence.read", target_subject(ctx.valid, r.target))][:limit]
