"""``backup run|list|prune|check``: back environments up, list their backups (with which are
proven to restore), apply retention, check repositories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.actions.access import guard
from odooplane.errors import NotFound, OdooplaneError, UsageError
from odooplane.estate.resolve import DesiredEnvironment, EnvRef
from odooplane.operations import backups, repositories
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation, StepFailed
from odooplane.planner import retention
from odooplane.services import restic
from odooplane.store import evidence

Listener = Callable[[str, str, str], None]


def select(ctx: Context, targets: list[str]) -> list[DesiredEnvironment]:
    """Environments named ``tenant/env`` or ``tenant`` (all its environments); all when empty."""
    if not targets:
        return list(ctx.valid.environments)
    out: list[DesiredEnvironment] = []
    for text in targets:
        if "/" in text:
            try:
                ref = EnvRef.parse(text)
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            env = ctx.valid.environment(ref)
            if env is None:
                raise NotFound(f"{text}: no such environment in {ctx.valid.path}")
            out.append(env)
        else:
            found = [e for e in ctx.valid.environments if e.ref.tenant == text]
            if not found:
                raise NotFound(f"{text}: no such tenant in {ctx.valid.path}")
            out.extend(found)
    return out


@dataclass
class RunResult:
    operation_id: int
    backups: list[backups.BackupResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run(path: Path | None, targets: list[str], *, repos: list[str] | None = None, kind: str = "manual",
        listener: Listener | None = None) -> RunResult:
    """Back ``targets`` up now."""
    ctx = estate_file.context(path)
    try:
        envs = select(ctx, targets)
        guard(ctx, "backups.run", envs)
        return run_in(ctx, envs, repos=repos, kind=kind, listener=listener)
    finally:
        ctx.close()


def run_in(ctx: Context, envs: list[DesiredEnvironment], *, repos: list[str] | None = None, kind: str = "manual",
           listener: Listener | None = None, op_id: int = 0, actor: str | None = None,
           one: Callable[[Operation, DesiredEnvironment], backups.BackupResult] | None = None) -> RunResult:
    """Back ``envs`` up as one operation (``op_id``: a requested one this process claimed; ``one``:
    how one environment is backed up: by default on this host, or by a Job on a kubernetes estate)."""
    if one is None and ctx.estate.platform.driver == "kubernetes":  # made by a Job in the cluster
        from odooplane.actions import kubernetes_backup

        one = kubernetes_backup.in_cluster(ctx, kind=kind, repos=repos)
    envs = [e for e in envs if repos or e.backup_policy is not None]
    target = str(envs[0].ref) if len(envs) == 1 else f"estate {ctx.estate.platform.name}"
    with Operation(ctx.store, kind="backup", target=target, actor=actor or ctx.actor, listener=listener,
                   op_id=op_id) as op:
        result = RunResult(operation_id=op.op_id)
        for env in envs:
            try:
                result.backups.append(one(op, env) if one is not None
                                      else backups.backup_env(ctx, op, env, kind=kind, repos=repos))
            except StepFailed as exc:
                result.failures.append(str(exc))
                evidence.add(ctx.store, kind="backup", target=str(env.ref), ok=False, operation_id=op.op_id,
                             data={"error": exc.reason, "step": exc.step, "kind": kind},
                             summary=f"{env.ref}: backup FAILED at {exc.step}: {exc.reason}")
            except OdooplaneError as exc:
                result.failures.append(f"{env.ref}: {exc.message}")
        return result


@dataclass(frozen=True)
class ListedBackup:
    target: str
    repository: str
    snapshot: str
    time: str
    kind: str
    verified: bool | None  # None: never verified
    confirmed: bool = True  # False: its backup never finished (shown only with --all; never restored by default)


def list_backups(path: Path | None, targets: list[str], *, include_unconfirmed: bool = False) -> list[ListedBackup]:
    """The backups of ``targets`` in their repositories: the confirmed ones, or every snapshot with
    ``include_unconfirmed`` (each flagged)."""
    ctx = estate_file.context(path)  # the repositories and the evidence: every driver
    try:
        out: list[ListedBackup] = []
        verifications = evidence.query(ctx.store, kind="restore-verification", limit=10000)
        for env in select(ctx, targets):
            verdicts = {v.data.get("snapshot"): v.ok for v in verifications if v.target == str(env.ref)}
            for name in repositories.targets(ctx, env):
                repo = repositories.repository(ctx, name, tenant=env.ref.tenant)
                if not restic.is_initialised(repo):
                    continue
                confirmed = backups.confirmed_snapshots(ctx, env, name)
                for snap in restic.snapshots(repo, tags=repositories.env_tags(ctx, env)):
                    ok = backups.is_confirmed(snap, confirmed)
                    if ok or include_unconfirmed:
                        out.append(ListedBackup(str(env.ref), name, snap.short_id, snap.time.isoformat(),
                                                snap.tag("kind") or "?", verdicts.get(snap.short_id), ok))
        return out
    finally:
        ctx.close()


@dataclass
class PruneResult:
    decisions: dict[str, retention.Decision] = field(default_factory=dict)  # "<target> <repo>" -> decision
    forgotten: int = 0
    dry_run: bool = False


def newest_verified(ctx: Context, env: DesiredEnvironment) -> set[str]:
    for item in evidence.query(ctx.store, kind="restore-verification", target=str(env.ref), limit=200):
        if item.ok and item.data.get("snapshot"):
            return {str(item.data["snapshot"])}
    return set()


def prune_in(ctx: Context, envs: list[DesiredEnvironment], *, dry_run: bool = False) -> PruneResult:
    result = PruneResult(dry_run=dry_run)
    with Operation(ctx.store, kind="prune", target=f"estate {ctx.estate.platform.name}", actor=ctx.actor,
                   dry_run=dry_run) as op:
        for env in envs:
            if env.backup_policy is None:
                continue
            policy = ctx.estate.backups.policies[env.backup_policy]
            protected = newest_verified(ctx, env)
            for name in policy.targets:
                repo = repositories.repository(ctx, name, tenant=env.ref.tenant)
                if not restic.is_initialised(repo):
                    continue
                snaps = restic.snapshots(repo, tags=repositories.env_tags(ctx, env))
                decision = retention.decide(
                    [retention.Candidate(s.short_id, s.time) for s in snaps], policy.retention,
                    timezone=policy.timezone, protected=protected)
                result.decisions[f"{env.ref} {name}"] = decision
                if decision.forget and not dry_run:
                    op.step("forget", f"{env.ref} {name}", lambda r=repo, d=decision: restic.forget(r, d.forget),  # type: ignore[misc]
                            detail=",".join(decision.forget))
                    result.forgotten += len(decision.forget)
    return result


def prune(path: Path | None, targets: list[str], *, dry_run: bool = False) -> PruneResult:
    ctx = estate_file.context(path, destructive=None if dry_run else "backup prune")  # repositories only: every driver
    try:
        return prune_in(ctx, select(ctx, targets), dry_run=dry_run)
    finally:
        ctx.close()


@dataclass
class CheckResult:
    repository: str
    ok: bool
    output: str


def check(path: Path | None, *, repos: list[str] | None = None, read_data_subset: str | None = "5%"
          ) -> list[CheckResult]:
    ctx = estate_file.context(path)  # repositories only: every driver
    try:
        names = repos or sorted(ctx.estate.backups.repositories)
        out: list[CheckResult] = []
        for name in names:
            tenants = sorted({e.ref.tenant for e in ctx.valid.environments}) \
                if ctx.estate.backups.repositories.get(name) and ctx.estate.backups.repositories[name].per_tenant \
                else [None]
            for tenant in tenants:
                repo = repositories.repository(ctx, name, tenant=tenant)
                label = f"{name}/{tenant}" if tenant else name
                if not restic.is_initialised(repo):
                    out.append(CheckResult(label, True, "not created yet (no backup so far)"))
                    continue
                try:
                    text = restic.check(repo, read_data_subset=read_data_subset)
                    out.append(CheckResult(label, True, text.strip().splitlines()[-1] if text.strip() else "ok"))
                except OdooplaneError as exc:
                    out.append(CheckResult(label, False, exc.message))
                evidence.add(ctx.store, kind="repository-check", target=label, ok=out[-1].ok,
                             data={"output": out[-1].output, "read_data_subset": read_data_subset},
                             summary=f"repository {label}: check {'passed' if out[-1].ok else 'FAILED'}")
        return out
    finally:
        ctx.close()
