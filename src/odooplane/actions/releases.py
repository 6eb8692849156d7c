"""``history``, ``promote`` and ``approve``: the release history of environments, and moving a
release to environments through the change gates (previous stage, approvals with separation of
duties, maintenance windows, freezes, emergency override) — every decision in the history and the
audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odooplane.actions import estate_file, kubernetes_upgrade, move
from odooplane.actions.access import guard
from odooplane.actions.backup import select
from odooplane.drivers import registry
from odooplane.errors import NotFound, OdooplaneError, UsageError
from odooplane.estate.change import PersonRoles
from odooplane.estate.resolve import DesiredEnvironment, EnvRef
from odooplane.operations import guardrails as guardrail_checks
from odooplane.operations import release_content, upgrades
from odooplane.operations.context import Context
from odooplane.operations.desired import artifacts
from odooplane.operations.runner import Operation
from odooplane.planner import gates
from odooplane.store import audit, releases

if TYPE_CHECKING:
    from odooplane.actions.kubernetes import Connected


def history(path: Path | None, target: str | None, *, limit: int = 100) -> list[releases.Event]:
    ctx = estate_file.context(path)
    try:
        if target is None:
            return releases.events(ctx.store, limit=limit)
        if "/" in target:
            env = select(ctx, [target])[0]
            return releases.events(ctx.store, target=str(env.ref), limit=limit)
        if target not in ctx.estate.tenants:
            raise NotFound(f"{target}: no such tenant or environment in {ctx.valid.path}")
        found = [e for e in releases.events(ctx.store, limit=10 * limit) if e.target.startswith(f"{target}/")]
        return found[:limit]
    finally:
        ctx.close()


def _check_release(known: dict[str, object], release: str) -> None:
    if release not in known:
        names = ", ".join(sorted(known)) or "none are declared under releases"
        raise UsageError(f"unknown release {release!r} (known: {names})")


# -- promotion ----------------------------------------------------------------------------------

SELECTOR_KEYS = ("tenant", "env", "stage", "tier", "business_unit", "site", "brand")


def select_targets(envs: list[DesiredEnvironment], selector: str) -> list[DesiredEnvironment]:
    """``acme/prod``, or ``key=value,…`` over tenant, env, stage, tier, business_unit, site, brand."""
    if "=" not in selector:
        found = [e for e in envs if str(e.ref) == selector]
        if not found:
            raise NotFound(f"--to {selector}: no such environment")
        return found
    wanted: dict[str, str] = {}
    for part in selector.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in SELECTOR_KEYS or not value.strip():
            raise UsageError(f"--to {selector!r}: use tenant/env or key=value pairs with keys "
                             f"{', '.join(SELECTOR_KEYS)} (e.g. tier=standard,env=prod)")
        wanted[key] = value.strip()

    def values(env: DesiredEnvironment) -> dict[str, str]:
        return {"tenant": env.ref.tenant, "env": env.ref.env, "stage": env.stage, "tier": env.labels.tier,
                "business_unit": env.labels.business_unit or "", "site": env.labels.site or "",
                "brand": env.labels.brand or ""}

    found = [e for e in envs if all(values(e)[k] == v for k, v in wanted.items())]
    if not found:
        raise NotFound(f"--to {selector}: matches no environment")
    return found


@dataclass
class TargetOutcome:
    target: str
    decision: str  # allowed | blocked | unchanged
    gates: list[dict[str, object]]
    change: int | None = None  # the promotion request (approvals are given to it)
    next_window: str | None = None
    upgrade: upgrades.UpgradeResult | None = None


@dataclass
class Promotion:
    release: str
    targets: list[TargetOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.decision != "blocked" and (t.upgrade is None or t.upgrade.status == "upgraded")
                   for t in self.targets)


def _request(ctx: Context, env: DesiredEnvironment, release: str) -> releases.Event:
    """The open promotion request of ``release`` to ``env`` (made now if there is none)."""
    requests = releases.events(ctx.store, target=str(env.ref), kinds=("request",), limit=200)
    closed = {e.detail.get("change") for e in requests if e.status != "open"}
    for event in requests:
        if event.release == release and event.status == "open" and event.id not in closed:
            return event
    event_id = releases.add(ctx.store, target=str(env.ref), kind="request", status="open", actor=ctx.actor,
                            release=release, from_release=env.release)
    audit.record(ctx.store, actor=ctx.actor, action="promotion-request", target=str(env.ref), outcome="open",
                 detail={"release": release, "change": event_id})
    found = releases.event(ctx.store, event_id)
    assert found is not None
    return found


def approvals_of(ctx: Context, change: int) -> list[gates.Approval]:
    return [gates.Approval(e.actor, e.ts) for e in releases.events(ctx.store, kinds=("approval",), limit=500)
            if e.detail.get("change") == change and e.status == "ok"]


def _decide(ctx: Context, env: DesiredEnvironment, release: str, emergency: gates.Emergency | None,
            ) -> tuple[gates.Decision | None, releases.Event | None]:
    cm = ctx.estate.change_management
    found = cm.policy_for(stage=env.stage, tier=env.labels.tier)
    if found is None:
        return None, None  # no change policy governs it
    name, policy = found
    request = _request(ctx, env, release)
    tenant_envs = {str(e.ref): e.stage for e in ctx.valid.environments if e.ref.tenant == env.ref.tenant}
    succeeded = frozenset(tenant_envs[t] for t in releases.succeeded_on(ctx.store, env.ref.tenant, release)
                          if t in tenant_envs)
    decision = gates.evaluate(gates.GateRequest(
        target=gates.Target(str(env.ref), env.stage, env.labels.tier, env.labels.business_unit),
        release=release, requester=request.actor, now=ctx.clock.now(), policy=policy, windows=cm.windows,
        freezes=cm.freezes, people=cm.people, succeeded_stages=succeeded,
        approvals=approvals_of(ctx, request.id), emergency=emergency, policy_name=name))
    return decision, request


def _connected(path: Path, *, cluster: bool, server: registry.ApiServer | None) -> Connected | None:
    """A kubernetes estate's rendered objects and API server (None on the other drivers)."""
    if not cluster:
        return None
    from odooplane.actions.kubernetes import connect

    return connect(path, "releases.promote", context=None, kubeconfig=None, server=server)


def promote(path: Path | None, release: str, selector: str, *, emergency_reason: str | None = None,
            server: registry.ApiServer | None = None, cluster_options: dict[str, Any] | None = None) -> Promotion:
    """Judge ``release`` for every selected environment against its gates; apply it (an upgrade that
    rolls back by itself) where they all pass. Every decision goes to the history and the audit log."""
    ctx = estate_file.context(path)
    try:
        _check_release(dict(ctx.estate.releases), release)
        targets = select_targets(list(ctx.valid.environments), selector)
        guard(ctx, "releases.promote", targets)
        outcome = Promotion(release=release)
        cluster = ctx.estate.platform.driver == "kubernetes"
        # On kubernetes: what the cluster runs now (before the edit), to roll back to; a cluster that
        # cannot be reached refuses the promotion before any gate is judged.
        old = _connected(ctx.valid.path, cluster=cluster, server=server)
        emergency = gates.Emergency(ctx.actor, emergency_reason) if emergency_reason else None
        if emergency_reason is not None and not emergency_reason.strip():
            raise UsageError("--emergency needs --reason TEXT (it is recorded)")
        allowed: list[DesiredEnvironment] = []
        guarded = guardrail_checks.check(ctx, observed=True, targets=targets)  # one pass for every target
        for env in targets:
            t = str(env.ref)
            if env.pool is not None:
                raise UsageError(f"{t} is in shared pool {env.pool}: releases run on dedicated environments")
            resume = old is not None and kubernetes_upgrade.unfinished(ctx, env)  # a killed one: go on
            if env.release == release and release_content.failed_upgrade(ctx, env) is None and not resume:
                # Declared but not run because its upgrade failed and was rolled back: promoting it
                # again is the request to try again.
                outcome.targets.append(TargetOutcome(t, "unchanged", []))
                continue
            decision, request = _decide(ctx, env, release, emergency)
            gate_list: list[dict[str, object]] = [
                {"gate": g.name, "passed": g.passed, "reason": g.reason} for g in (decision.gates if decision else [])]
            # The estate's guardrails on this environment (observed state too), waivers applied: no
            # emergency override lifts them; an approved waiver does.
            blocking = guarded.blocking(t)
            gate_list.append({"gate": "guardrails", "passed": not blocking, "reason": (
                "; ".join(f"{f.rule} ({f.severity}): {f.message}" for f in blocking) if blocking else
                f"no unwaived violation at or above {ctx.estate.guardrails.block_at}")})
            verdict = "allowed" if (decision is None or decision.allowed) and not blocking else "blocked"
            next_window = decision.next_window.isoformat() if decision and decision.next_window else None
            detail = {"gates": gate_list, "next_window": next_window, "change": request.id if request else None,
                      "emergency": emergency_reason if decision and decision.emergency_used else None}
            releases.add(ctx.store, target=t, kind="gate", status=verdict, actor=ctx.actor, release=release,
                         from_release=env.release, detail=detail)
            audit.record(ctx.store, actor=ctx.actor, action="promotion-gate", target=t, outcome=verdict,
                         detail={"release": release, **detail})
            outcome.targets.append(TargetOutcome(t, verdict, gate_list, request.id if request else None, next_window))
            if verdict == "allowed":
                allowed.append(env)
        if not allowed:
            return outcome
        if old is not None:
            for env in allowed:
                kubernetes_upgrade.preflight(ctx, old, env)  # refused here: nothing edited, nothing stopped
        by_file: dict[Path, dict[EnvRef, dict[str, object]]] = {}
        for env in allowed:
            by_file.setdefault(move.env_file(ctx.valid.path, env.ref), {})[env.ref] = {"release": release}
        estate_path = ctx.valid.path
    finally:
        ctx.close()
    originals = {file: move.edit_env(file, values) for file, values in by_file.items()}
    try:
        ctx = estate_file.context(estate_path)
        new = _connected(estate_path, cluster=cluster, server=server)
    except OdooplaneError:
        for file, text in originals.items():
            file.write_text(text, encoding="utf-8")  # nothing half-applied
        raise
    try:
        with Operation(ctx.store, kind="promote", target=f"{release} → {selector}", actor=ctx.actor) as op:
            for env in allowed:
                fresh = ctx.valid.environment(env.ref)
                assert fresh is not None
                item = next(o for o in outcome.targets if o.target == str(env.ref))
                if old is not None and new is not None:  # in the cluster, by Jobs
                    item.upgrade = kubernetes_upgrade.upgrade(ctx, op, fresh, old=old, new=new, **(cluster_options
                                                                                                   or {}))
                    if item.upgrade.status == "rolled-back" and env.release is not None:
                        # What runs is the previous release: the estate says so again, so that the next
                        # apply (or Argo CD sync) does not put the new image on the old database.
                        move.edit_env(move.env_file(estate_path, env.ref), {env.ref: {"release": env.release}})
                elif env.release is None and not postgres_ready(ctx, fresh):
                    continue  # not created yet: apply creates it on the release
                else:
                    item.upgrade = upgrades.upgrade_env(ctx, op, fresh)
                if item.change is not None:
                    status = "done" if item.upgrade.status == "upgraded" else "failed"
                    releases.add(ctx.store, target=str(env.ref), kind="request", status=status, actor=ctx.actor,
                                 release=release, detail={"change": item.change})
                audit.record(ctx.store, actor=ctx.actor, action="promotion", target=str(env.ref),
                             outcome=item.upgrade.status, detail={"release": release,
                                                                 "downtime_s": item.upgrade.downtime_s})
    finally:
        ctx.close()
    return outcome


def postgres_ready(ctx: Context, env: DesiredEnvironment) -> bool:
    art = artifacts(ctx, env, create=False)
    return art is not None and bool(upgrades.installed_modules(art.cluster, env.database))


def approve(path: Path | None, change: int) -> releases.Event:
    """Approve promotion request ``change`` as the current user (``ODOOPLANE_ACTOR`` or the login)."""
    ctx = estate_file.context(path)
    try:
        request = releases.event(ctx.store, change)
        if request is None or request.kind != "request":
            raise NotFound(f"change #{change} does not exist (odooplane history lists promotion requests)")
        closed = [e for e in releases.events(ctx.store, target=request.target, kinds=("request",), limit=200)
                  if e.detail.get("change") == change]
        if request.status != "open" or closed:
            raise UsageError(f"change #{change} is no longer open")
        env = select(ctx, [request.target])[0]
        guard(ctx, "releases.approve", [env])
        found = ctx.estate.change_management.policy_for(stage=env.stage, tier=env.labels.tier)
        rule = found[1].approvals if found else None
        if rule is not None and rule.separation_of_duties and ctx.actor == request.actor:
            audit.record(ctx.store, actor=ctx.actor, action="approval", target=request.target, outcome="refused",
                         detail={"change": change, "reason": "separation of duties"})
            raise UsageError(f"separation of duties: {ctx.actor} requested change #{change} and cannot approve it")
        held = set(ctx.estate.change_management.people.get(ctx.actor, PersonRoles()).roles)
        if rule is not None and rule.roles and not held & set(rule.roles):
            audit.record(ctx.store, actor=ctx.actor, action="approval", target=request.target, outcome="refused",
                         detail={"change": change, "reason": "role"})
            raise UsageError(f"{ctx.actor} holds none of the roles that approve change #{change} "
                             f"({', '.join(rule.roles)}; change_management.people)")
        if any(a.person == ctx.actor for a in approvals_of(ctx, change)):
            raise UsageError(f"{ctx.actor} already approved change #{change}")
        event_id = releases.add(ctx.store, target=request.target, kind="approval", status="ok", actor=ctx.actor,
                                release=request.release, detail={"change": change})
        audit.record(ctx.store, actor=ctx.actor, action="approval", target=request.target, outcome="ok",
                     detail={"change": change, "release": request.release})
        done = releases.event(ctx.store, event_id)
        assert done is not None
        return done
    finally:
        ctx.close()
