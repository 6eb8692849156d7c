"""``apply``: converge what runs on the estate — clusters, edge, every environment — as one
journaled operation. Environments converge in parallel, each under its own lock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions import schedule as scheduling
from odooplane.actions.access import guard
from odooplane.errors import KubernetesEstate, LockedError, OdooplaneError
from odooplane.estate.resolve import DesiredEnvironment, EnvRef
from odooplane.operations import guardrails as guardrail_checks
from odooplane.operations import mail, moves, observe, pools, provision, templates, temporaries, upgrades
from odooplane.operations.context import Context
from odooplane.operations.desired import artifacts
from odooplane.operations.runner import Operation, StepFailed, StepRecord
from odooplane.planner import plan as planner
from odooplane.planner.observed import Observed

logger = logging.getLogger(__name__)

Listener = Callable[[str, str, str], None]


@dataclass
class ApplyResult:
    operation_id: int
    plan: planner.Plan
    steps: list[StepRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    moves: list[moves.MoveResult] = field(default_factory=list)
    upgrades: list[upgrades.UpgradeResult] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def run(
    path: Path | None,
    *,
    prune: bool = False,
    parallel: int = 4,
    listener: Listener | None = None,
    on_plan: Callable[[planner.Plan], None] | None = None,
    retry_failed: bool = False,
) -> ApplyResult:
    """Converge the estate at ``path``. Failures of single environments are collected (the
    others still converge); an estate-wide failure (cluster, edge) raises StepFailed. Upgrades that
    failed and were rolled back are tried again only if their content changed, or ``retry_failed``."""
    valid = estate_file.load(path, destructive="apply --prune" if prune else None)
    if valid.estate.platform.driver == "kubernetes":
        raise KubernetesEstate(valid.path)
    estate_file.remember(valid.path)
    ctx = estate_file.context(valid.path)
    try:
        guard(ctx, "estate.apply")
        guardrail_checks.gate(ctx, what="apply")
        return converge(ctx, prune=prune, parallel=parallel, listener=listener, on_plan=on_plan,
                        retry_failed=retry_failed)
    finally:
        ctx.close()


def converge(
    ctx: Context,
    *,
    prune: bool = False,
    parallel: int = 4,
    listener: Listener | None = None,
    on_plan: Callable[[planner.Plan], None] | None = None,
    retry_failed: bool = False,
) -> ApplyResult:
    started = ctx.clock.monotonic()
    with Operation(
        ctx.store, kind="apply", target=f"estate {ctx.estate.platform.name}", actor=ctx.actor, listener=listener
    ) as op:
        observed, _ = observe.observe(ctx)
        the_plan = planner.plan(ctx.valid, observed, prune=prune, templates=template_sources(ctx),
                                retry_failed=retry_failed)
        if on_plan:
            on_plan(the_plan)
        result = ApplyResult(operation_id=op.op_id, plan=the_plan)
        if the_plan.empty:
            scheduling.rotate_logs(ctx)
            result.duration_s = ctx.clock.monotonic() - started
            return result
        runtime_changes = any(c.target == "edge" or c.target.startswith("cluster ") for c in the_plan.changes)
        if runtime_changes or not observed.supervisor_running:
            op.step("supervisor", "runtime", ctx.driver.prepare)
        used = {env.cluster_name for env in ctx.valid.environments} | {p.cluster_name for p in ctx.valid.pools}
        for name in sorted(ctx.estate.clusters):
            if not observed.clusters[name].reachable or (runtime_changes and name in used):
                provision.ensure_cluster(ctx, op, name)
        provision.ensure_edge(ctx, op)
        provision.ensure_worker(ctx, op)
        provision.ensure_service(ctx, op)
        if runtime_changes:
            observed, _ = observe.observe(ctx, health="probe")  # clusters and the edge are up now
        if observed.leftovers:
            # What killed operations left: removed (swaps finished) before anything else looks at
            # the databases, so no orphan pass ever mistakes them for data to keep or to drop.
            op.step("leftovers", "runtime", lambda: temporaries.clean_up(ctx))
            observed, _ = observe.observe(ctx, health="probe")
        _remove_orphans(ctx, op, observed, prune=prune, result=result)
        op.step("mail", "runtime", lambda: mail.publish(ctx))  # the worker catches non-production mail
        for template in templates.desired(ctx):
            if not observed.templates[template.database].ready:
                try:
                    provision.ensure_template(ctx, op, template)
                except StepFailed as exc:
                    result.failures.append(str(exc))
        broken_pools = set()
        for pool in ctx.valid.pools:
            if planner.pool_changes(pool, observed.pools.get(pool.name)):
                try:
                    pools.ensure_pool(ctx, op, pool, observed.pools.get(pool.name))
                except (StepFailed, LockedError) as exc:
                    result.failures.append(str(exc))
                    broken_pools.add(pool.name)
        pending = [env for env in ctx.valid.environments if env.pool not in broken_pools and planner.actionable(
            planner.env_changes(env, observed.envs[env.ref], retry_failed=retry_failed))]
        new_routes = [env for env in pending if not observed.envs[env.ref].route_exists]
        if len(new_routes) > 1:
            try:
                op.step("routes", "edge", lambda: _write_new_routes(ctx, new_routes),
                        detail=f"{len(new_routes)} new environment(s)")
            except StepFailed as exc:
                result.failures.append(str(exc))  # each environment's own route step tries again

        def converge_one(env_index: int) -> str | None:
            env = pending[env_index]
            return _converge_env(ctx, op, env, observed, result, retry_failed=retry_failed)

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool_executor:
            for failure in pool_executor.map(converge_one, range(len(pending))):
                if failure:
                    result.failures.append(failure)
        scheduling.rotate_logs(ctx)
        result.steps = list(op.records)
        result.duration_s = ctx.clock.monotonic() - started
        return result


def _converge_env(ctx: Context, op: Operation, env: DesiredEnvironment, observed: Observed, result: ApplyResult,
                  *, retry_failed: bool) -> str | None:
    """Converge one environment (create, move, upgrade or repair it); return its failure, if any."""
    obs = observed.envs[env.ref]
    changes = planner.env_changes(env, obs, retry_failed=retry_failed)
    try:
        if any(c.action == "move" for c in changes):
            result.moves.append(moves.move_env(ctx, op, env, obs))
        elif any(c.action == "upgrade" for c in changes):
            return _upgrade(ctx, op, env, result)
        else:
            provision.ensure_env(ctx, op, env, obs)
            if env.release is not None and obs.release != env.release:
                upgrades.record_install(ctx, env, operation_id=op.op_id)
    except (StepFailed, LockedError) as exc:
        return str(exc)
    except OdooplaneError as exc:
        return f"{env.ref}: {exc.message}"
    return None


def converge_only(ctx: Context, refs: list[EnvRef], *, kind: str = "provision", op_id: int = 0,
                  actor: str | None = None, listener: Listener | None = None) -> ApplyResult:
    """Converge only the environments ``refs`` (and what they stand on: the runtime, their clusters,
    the edge, their pools and templates) — what the service runs for a new tenant or a changed
    environment, at a cost that does not grow with the estate. ``op_id``: a requested operation this
    process claimed (store/requests.py)."""
    started = ctx.clock.monotonic()
    envs = [e for e in ctx.valid.environments if e.ref in set(refs)]
    target = str(refs[0]) if len(refs) == 1 else f"{len(refs)} environments"
    with Operation(ctx.store, kind=kind, target=target, actor=actor or ctx.actor, op_id=op_id,
                   listener=listener) as op:
        if kind == "provision":  # new environments: the edge loads their routes while they are made
            _write_new_routes(ctx, envs)
        observed, _ = observe.observe(ctx, health="recorded", only=set(refs))
        result = ApplyResult(operation_id=op.op_id, plan=planner.Plan())
        if not observed.supervisor_running:
            op.step("supervisor", "runtime", ctx.driver.prepare)
        for name in sorted({e.cluster_name for e in envs} | {p.cluster_name for p in ctx.valid.pools
                                                                if any(e.pool == p.name for e in envs)}):
            if not observed.clusters[name].reachable:
                provision.ensure_cluster(ctx, op, name)
        if not observed.edge_running:
            provision.ensure_edge(ctx, op)
        if any(leftover.target in {str(r) for r in refs} for leftover in observed.leftovers):
            op.step("leftovers", "runtime", lambda: temporaries.clean_up(ctx))
        for env in envs:
            template = templates.for_environment(ctx, env)
            if template is not None and not observed.templates[template.database].ready:
                provision.ensure_template(ctx, op, template)
        for pool in {p.name: p for p in ctx.valid.pools if any(e.pool == p.name for e in envs)}.values():
            if planner.pool_changes(pool, observed.pools.get(pool.name)):
                pools.ensure_pool(ctx, op, pool, observed.pools.get(pool.name))
        for env in envs:
            failure = _converge_env(ctx, op, env, observed, result, retry_failed=False)
            if failure:
                result.failures.append(failure)
        result.steps = list(op.records)
        result.duration_s = ctx.clock.monotonic() - started
        return result


def _write_new_routes(ctx: Context, envs: list[DesiredEnvironment]) -> int:
    """Write the routes of every new environment at once, before any is converged: the edge
    re-reads its dynamic configuration once for the batch instead of once per environment (each
    reading parses every route file, so one write per environment costs the square of the estate).
    Until an environment's database exists its hostname gets the pool's database selector or a
    502, never another tenant. An environment whose artifacts cannot be made yet is left to its
    own convergence, which reports why."""
    written = 0
    for env in envs:
        try:
            art = artifacts(ctx, env, create=True)
        except OdooplaneError:
            continue
        if art is not None:
            ctx.driver.ensure_route(art.route)
            written += 1
    return written


def _upgrade(ctx: Context, op: Operation, env: DesiredEnvironment, result: ApplyResult) -> str | None:
    """A release change through apply: only for environments whose change policy has no gates;
    governed ones go through ``promote`` (windows, freezes, approvals, previous stage)."""
    found = ctx.estate.change_management.policy_for(stage=env.stage, tier=env.labels.tier)
    if found is not None:
        name, policy = found
        freezes = list(ctx.estate.change_management.freezes) if policy.freezes is None else policy.freezes
        if policy.windows or policy.approvals or policy.previous_stage or freezes:
            return (f"{env.ref}: its release change is governed by change policy {name!r}: "
                    f"run `odooplane promote {env.release} --to {env.ref}` (apply does not bypass the gates)")
    done = upgrades.upgrade_env(ctx, op, env)
    result.upgrades.append(done)
    if done.status != "upgraded":
        return f"{env.ref}: upgrade to {env.release} failed and was rolled back: {done.error}"
    return None


def template_sources(ctx: Context) -> dict[str, str]:
    """Which template each environment would be created from (for the plan)."""
    out = {}
    for env in ctx.valid.environments:
        template = templates.for_environment(ctx, env)
        if template is not None:
            out[str(env.ref)] = template.database
    return out


def _remove_orphans(ctx: Context, op: Operation, observed: Observed, *, prune: bool, result: ApplyResult) -> None:
    for orphan in observed.orphans:
        try:
            provision.remove_orphan(ctx, op, orphan, prune=prune)
        except StepFailed as exc:
            result.failures.append(str(exc))


