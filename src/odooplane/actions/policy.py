"""``policy``: the estate's guardrails checked against its desired and observed state, and their
waivers — asked for by one person with a reason and an expiry, in force once another approved it."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from odooplane.access import Principal
from odooplane.actions import estate_file
from odooplane.actions.access import authorize, cli_actor, environment_subject, guard
from odooplane.actions.backup import select
from odooplane.errors import NotFound, UsageError
from odooplane.estate import guardrails
from odooplane.estate.change import PersonRoles
from odooplane.estate.models import Severity
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import guardrails as checking
from odooplane.operations.context import Context
from odooplane.store import audit, waivers

MAX_REASON = 2000
# tenant/env, tenant/* or *: no other wildcard, so a waiver never covers a tenant made after it
TARGET = re.compile(r"\*|[a-z][a-z0-9-]{0,29}/(?:\*|[a-z][a-z0-9_-]{0,29})")


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    baseline: bool
    observed: bool
    when: str
    require: str
    explain: str
    fix: str


@dataclass(frozen=True)
class CheckResult:
    at: dt.datetime
    block_at: Severity
    observed: bool
    rules: list[Rule]
    findings: list[guardrails.Finding]

    @property
    def blocking(self) -> list[guardrails.Finding]:
        return [f for f in self.findings if f.violated and guardrails.at_or_above(f.severity, self.block_at)]

    @property
    def violations(self) -> list[guardrails.Finding]:
        return [f for f in self.findings if f.violated]


def check(path: Path | None, *, targets: list[str] | None = None, observed: bool = True,
          context: Context | None = None) -> CheckResult:
    """Every guardrail on ``targets`` (``tenant/env`` or ``tenant``; default: the whole estate),
    desired state only when not ``observed`` (what validate checks)."""
    ctx = context or estate_file.context(path)
    try:
        envs = select(ctx, targets or [])
        guard(ctx, "policy.read", envs)
        report = checking.check(ctx, observed=observed, targets=envs)
        compiled, _ = guardrails.compile_rules(ctx.estate)
        rules = [Rule(c.rule.id, c.rule.severity, c.baseline, c.observed, c.rule.when, c.rule.require,
                      c.rule.explain, c.rule.fix) for c in compiled]
        return CheckResult(report.at, report.block_at, observed, rules, report.findings)
    finally:
        if context is None:
            ctx.close()


def rule_ids(ctx: Context) -> list[str]:
    return [r.id for r, _ in guardrails.rules_of(ctx.estate)]


def _authorize(ctx: Context, principal: Principal | None, right: str, envs: list[DesiredEnvironment]) -> None:
    """The CLI's local user (``principal`` None) or the service's caller may use ``right`` on ``envs``."""
    if principal is None:
        guard(ctx, right, envs)
        return
    for env in envs:
        authorize(ctx, principal, right, environment_subject(env))


def _actor(ctx: Context, principal: Principal | None) -> str:
    return cli_actor(ctx) if principal is None else principal.actor


def waive(path: Path | None, rule: str, target: str, *, reason: str, days: int) -> waivers.Waiver:
    ctx = estate_file.context(path)
    try:
        return waive_in(ctx, None, rule, target, reason=reason, days=days)
    finally:
        ctx.close()


def waive_in(ctx: Context, principal: Principal | None, rule: str, target: str, *, reason: str,
             days: int) -> waivers.Waiver:
    """Ask for a waiver of ``rule`` on ``target`` (``tenant/env``, ``tenant/*`` or ``*``) for ``days``."""
    if rule not in rule_ids(ctx):
        raise UsageError(f"rule {rule!r}: the estate checks no such rule (odooplane policy rules lists them)")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON or not reason.isprintable():
        raise UsageError(f"reason: say why, on one line of at most {MAX_REASON} characters")
    limit = ctx.estate.guardrails.waivers.max_days
    if not 1 <= days <= limit:
        raise UsageError(f"days {days}: a waiver lasts 1 to {limit} days (guardrails.waivers.max_days)")
    _authorize(ctx, principal, "policy.waive", _covered(ctx, target))
    actor = _actor(ctx, principal)
    expires = ctx.clock.now() + dt.timedelta(days=days)
    waiver = waivers.request(ctx.store, rule=rule, target=target, reason=reason, actor=actor, expires_at=expires)
    audit.record(ctx.store, actor=actor, action="waiver request", target=target, outcome="ok",
                 detail={"waiver": waiver.id, "rule": rule, "reason": reason, "expires": expires.isoformat()})
    return waiver


def _covered(ctx: Context, target: str) -> list[DesiredEnvironment]:
    """The environments ``target`` names (at least one), or a usage error."""
    if not TARGET.fullmatch(target):
        raise UsageError(f"target {target!r}: give tenant/env, tenant/* or *")
    found = [e for e in ctx.valid.environments if fnmatch.fnmatchcase(str(e.ref), target)]
    if not found:
        raise NotFound(f"target {target!r} names no environment of the estate")
    return found


def approve(path: Path | None, waiver_id: int) -> waivers.Waiver:
    ctx = estate_file.context(path)
    try:
        return approve_in(ctx, None, waiver_id)
    finally:
        ctx.close()


def approve_in(ctx: Context, principal: Principal | None, waiver_id: int) -> waivers.Waiver:
    """Approve a waiver someone else asked for (separation of duties; guardrails.waivers.approver_roles)."""
    waiver = _waiver(ctx, waiver_id)
    _authorize(ctx, principal, "policy.approve", _covered(ctx, waiver.target))
    actor = _actor(ctx, principal)
    state = waiver.state(ctx.clock.now())
    if state != "requested":
        raise UsageError(f"waiver #{waiver_id} is {state}: only a requested waiver is approved")
    if waiver.requested_by == actor:
        audit.record(ctx.store, actor=actor, action="waiver approval", target=waiver.target,
                     outcome="refused", detail={"waiver": waiver_id, "reason": "separation of duties"})
        raise UsageError(f"separation of duties: {actor} asked for waiver #{waiver_id} and cannot approve it")
    roles = ctx.estate.guardrails.waivers.approver_roles
    held = set(ctx.estate.change_management.people.get(actor, PersonRoles()).roles)
    if roles and not held & set(roles):
        audit.record(ctx.store, actor=actor, action="waiver approval", target=waiver.target,
                     outcome="refused", detail={"waiver": waiver_id, "reason": "role"})
        raise UsageError(f"{actor} holds none of the roles that approve waivers ({', '.join(roles)}; "
                         "change_management.people)")
    if not waivers.approve(ctx.store, waiver_id, actor=actor):
        raise UsageError(f"waiver #{waiver_id} is no longer waiting for approval")
    audit.record(ctx.store, actor=actor, action="waiver approval", target=waiver.target, outcome="ok",
                 detail={"waiver": waiver_id, "rule": waiver.rule})
    return _waiver(ctx, waiver_id)


def revoke(path: Path | None, waiver_id: int) -> waivers.Waiver:
    ctx = estate_file.context(path)
    try:
        return revoke_in(ctx, None, waiver_id)
    finally:
        ctx.close()


def revoke_in(ctx: Context, principal: Principal | None, waiver_id: int) -> waivers.Waiver:
    """End a waiver now (its requester, or someone who approves waivers)."""
    waiver = _waiver(ctx, waiver_id)
    actor = _actor(ctx, principal)
    if waiver.requested_by != actor:
        _authorize(ctx, principal, "policy.approve", _covered(ctx, waiver.target))
    if not waivers.revoke(ctx.store, waiver_id, actor=actor):
        raise UsageError(f"waiver #{waiver_id} is already revoked")
    audit.record(ctx.store, actor=actor, action="waiver revocation", target=waiver.target, outcome="ok",
                 detail={"waiver": waiver_id, "rule": waiver.rule})
    return _waiver(ctx, waiver_id)


def listing(path: Path | None) -> tuple[dt.datetime, list[waivers.Waiver]]:
    ctx = estate_file.context(path)
    try:
        guard(ctx, "policy.read", list(ctx.valid.environments))
        return ctx.clock.now(), waivers.every(ctx.store)
    finally:
        ctx.close()


def _waiver(ctx: Context, waiver_id: int) -> waivers.Waiver:
    found = waivers.get(ctx.store, waiver_id)
    if found is None:
        raise NotFound(f"waiver #{waiver_id} does not exist (odooplane policy waivers lists them)")
    return found


def waivers_for(ctx: Context, principal: Principal) -> tuple[dt.datetime, list[waivers.Waiver]]:
    """The waivers on targets ``principal`` may read guardrails of (the service's list)."""
    from odooplane.actions.access import allowed

    visible = [e for e in ctx.valid.environments if allowed(principal, "policy.read", environment_subject(e))]
    if not visible:
        authorize(ctx, principal, "policy.read")  # refused and audited: it sees nothing
    names = [str(e.ref) for e in visible]
    return ctx.clock.now(), [w for w in waivers.every(ctx.store)
                             if any(fnmatch.fnmatchcase(n, w.target) for n in names)]
