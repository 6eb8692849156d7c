"""One tick of the worker: run the backups, verifications and retention that are due now, each
claimed once per fire time so that several workers of one estate do not run it twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from odooplane.actions import backup as backup_action
from odooplane.errors import OdooplaneError
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import sleeping
from odooplane.operations import verify as verifying
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.planner import schedule
from odooplane.services import logrotate
from odooplane.store import claims, evidence

# Claims of fire times older than this are deleted (the evidence of their jobs stays).
CLAIMS_KEPT = dt.timedelta(days=90)


@dataclass
class TickResult:
    backed_up: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pruned: int = 0
    slept: list[str] = field(default_factory=list)  # put to sleep by their schedule
    woken: list[str] = field(default_factory=list)  # woken by their schedule or a request


def history(ctx: Context, target: str) -> schedule.History:
    backups = [e for e in evidence.query(ctx.store, kind="backup", target=target, limit=50) if e.ok]
    checks = evidence.query(ctx.store, kind="restore-verification", target=target, limit=1)
    return schedule.History(last_backup=backups[0].ts if backups else None,
                            last_verification=checks[0].ts if checks else None)


def tick(ctx: Context) -> TickResult:
    """Do what is due at ``ctx.clock.now()``; failures are recorded, never raised.

    Each job is claimed for its fire time first (store/claims.py): of several workers of the estate,
    one runs it."""
    now = ctx.clock.now()
    result = TickResult()
    if ctx.estate.platform.driver != "kubernetes":
        for change in sleeping.tick(ctx):
            if not change.ok:
                result.failures.append(f"{change.action} {change.target}: {change.error}")
            else:
                (result.woken if change.action == "wake" else result.slept).append(change.target)
    with claims.Claims(ctx.store, by="worker") as claimed:
        due_backup: list[tuple[DesiredEnvironment, dt.datetime]] = []
        for env in ctx.valid.environments:
            if env.backup_policy is None:
                continue
            policy = ctx.estate.backups.policies[env.backup_policy]
            fire = schedule.backup_due_at(policy, history(ctx, str(env.ref)), now)
            if fire is not None and claimed.take(f"backup {env.ref}", fire):
                due_backup.append((env, fire))
        if due_backup:
            envs = [env for env, _ in due_backup]
            try:
                run = backup_action.run_in(ctx, envs, kind="scheduled")
            except OdooplaneError as exc:  # a kubernetes estate whose cluster cannot be reached: nothing began
                run = backup_action.RunResult(operation_id=0, failures=[f"scheduled backups: {exc.message}"])
            result.backed_up = [b.target for b in run.backups]
            result.failures += run.failures
            for env, fire in due_backup:
                if str(env.ref) in result.backed_up:
                    claimed.done(f"backup {env.ref}", fire)
            try:
                result.pruned = backup_action.prune_in(ctx, envs).forgotten
            except OdooplaneError as exc:  # a repository unreachable now: the verifications still run
                result.failures.append(f"retention: {exc.message}")
        due_verify: list[tuple[DesiredEnvironment, dt.datetime]] = []
        for env in ctx.valid.environments:
            if env.backup_policy is None:
                continue
            fire = schedule.verification_due_at(ctx.estate.backups.policies[env.backup_policy],
                                                history(ctx, str(env.ref)), now)
            if fire is not None and claimed.take(f"verify {env.ref}", fire):
                due_verify.append((env, fire))
        one = _verifier(ctx, result) if due_verify else None
        if due_verify and one is not None:
            with Operation(ctx.store, kind="verify", target="scheduled", actor="worker") as op:
                for env, fire in due_verify:
                    verdict = one(op, env)
                    if verdict.ok:
                        result.verified.append(str(env.ref))
                        claimed.done(f"verify {env.ref}", fire)
                    else:
                        result.failures.append(f"{env.ref}: verification failed: {'; '.join(verdict.failures)}")
        result.failures += _pitr_backups(ctx, now, claimed)
    claims.forget(ctx.store, before=now - CLAIMS_KEPT)
    rotate_logs(ctx)
    return result


def _verifier(ctx: Context, result: TickResult) -> Callable[[Operation, DesiredEnvironment],
                                                            verifying.Verification] | None:
    """How the worker proves a backup: in a sandbox of this host, or by a Job in the cluster on a
    kubernetes estate (None, the reason in ``result``, when that cluster cannot be reached)."""
    if ctx.estate.platform.driver != "kubernetes":
        return lambda op, env: verifying.verify(ctx, op, env)
    from odooplane.actions import kubernetes_verify

    try:
        return kubernetes_verify.in_cluster(ctx, repository=None, snapshot=None)
    except OdooplaneError as exc:
        result.failures.append(f"scheduled verifications: {exc.message}")
        return None


def rotate_logs(ctx: Context) -> None:
    """Rotate oversized logs: dedicated and pooled Odoo processes, the edge (apply does this too)."""
    for env in ctx.valid.environments:
        logrotate.rotate(ctx.layout.odoo_log(env.ref.slug))
    for pool in ctx.valid.pools:
        for index in range(pool.processes):
            logrotate.rotate(ctx.layout.pool_odoo_log(pool.name, index))
    ctx.driver.rotate_logs(max_bytes=logrotate.MAX_BYTES)


def _pitr_backups(ctx: Context, now: dt.datetime, claimed: claims.Claims) -> list[str]:
    """Base backups of managed clusters with point-in-time recovery, on their schedules."""
    from odooplane.estate import cron
    from odooplane.estate.models import ManagedCluster
    from odooplane.operations import pitr

    failures: list[str] = []
    for name, cluster in ctx.estate.clusters.items():
        if not isinstance(cluster, ManagedCluster) or cluster.pitr is None:
            continue
        done = evidence.query(ctx.store, kind="pitr-backup", target=f"cluster {name}", limit=20)
        last_full = next((e.ts for e in done if e.ok and e.data.get("type") == "full"), None)
        last_any = next((e.ts for e in done if e.ok), None)
        settings = cluster.pitr
        kind: Literal["full", "incr"] | None = None
        fire = None
        full_fire = cron.last_at_or_before(cron.parse(settings.full_schedule), now, settings.timezone)
        if full_fire and (last_full is None or last_full < full_fire):
            kind, fire = "full", full_fire
        elif settings.incremental_schedule:
            incr_fire = cron.last_at_or_before(cron.parse(settings.incremental_schedule), now, settings.timezone)
            if incr_fire and (last_any is None or last_any < incr_fire):
                kind, fire = "incr", incr_fire
        if kind is None or fire is None:
            continue
        conn = ctx.cluster_conn(name, allocate=False)
        if conn is None:
            continue
        job = f"pitr-backup {kind} cluster {name}"
        if not claimed.take(job, fire):
            continue
        try:
            with Operation(ctx.store, kind="pitr-backup", target=f"cluster {name}", actor="worker") as op:
                op.step("pitr-backup", f"cluster {name}",
                        lambda c=conn, n=name, k=kind: pitr.backup(ctx, op, n, c, kind=k))  # type: ignore[misc]
        except OdooplaneError as exc:
            failures.append(f"cluster {name}: {exc.message}")
            continue
        claimed.done(job, fire)
    return failures
