"""DR drills: restore the latest recoverable state of an environment onto a DR target (another
cluster), prove it (the same checks as a verification), measure the RPO and RTO achieved and
judge them against the environment's objectives — per business process, the strictest. The
result is evidence: passed or failed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from odooplane.errors import NotFound, UsageError
from odooplane.estate import durations
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations import repositories, restore, sandbox, verify
from odooplane.operations.context import Context
from odooplane.operations.runner import Operation
from odooplane.store import evidence


@dataclass
class DrillResult:
    target: str
    dr_cluster: str
    source: str  # "restic <snapshot>" or "pitr"
    ok: bool
    restored: bool
    rpo_s: float
    rto_s: float
    objectives: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {rpo_s, rto_s}
    verdicts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    evidence_id: int = 0


def objectives(env: DesiredEnvironment) -> dict[str, dict[str, float]]:
    """The environment's objectives and each business process's, in seconds."""
    if env.objectives is None:
        return {}
    out = {"environment": {"rpo_s": durations.parse(env.objectives.rpo).total_seconds(),
                           "rto_s": durations.parse(env.objectives.rto).total_seconds()}}
    for name, objective in env.objectives.processes.items():
        out[name] = {"rpo_s": durations.parse(objective.rpo).total_seconds(),
                     "rto_s": durations.parse(objective.rto).total_seconds()}
    return out


def judge(achieved_rpo: float, achieved_rto: float, targets: dict[str, dict[str, float]]) -> list[str]:
    """One line per objective missed (empty: every objective met)."""
    missed = []
    for name, limits in targets.items():
        if achieved_rpo > limits["rpo_s"]:
            missed.append(f"{name}: RPO {achieved_rpo:.0f} s exceeds {limits['rpo_s']:.0f} s")
        if achieved_rto > limits["rto_s"]:
            missed.append(f"{name}: RTO {achieved_rto:.0f} s exceeds {limits['rto_s']:.0f} s")
    return missed


def drill(ctx: Context, op: Operation, env: DesiredEnvironment, *, dr_cluster: str | None = None,
          use_pitr: bool = False) -> DrillResult:
    t = str(env.ref)
    cluster_name = dr_cluster or env.cluster_name
    if cluster_name not in ctx.estate.clusters:
        raise UsageError(f"--to {cluster_name}: no such cluster in the estate")
    cluster = ctx.cluster_conn(cluster_name, allocate=False)
    if cluster is None:
        raise NotFound(f"cluster {cluster_name} is not provisioned (run apply)")
    started_at = ctx.clock.now()
    if use_pitr:
        def fetch(into: Any) -> sandbox.Restored:
            return restore.fetch_pitr(ctx, op, env, at=None, into=into)

        label, repository = "pitr", "pgbackrest"
    else:
        repo_name = (repositories.targets(ctx, env) or ["local"])[0]
        repo = repositories.repository(ctx, repo_name, tenant=env.ref.tenant)
        snap = verify.find_snapshot(ctx, env, repo)

        def fetch(into: Any) -> sandbox.Restored:
            return sandbox.fetch(repo, snap, into)

        label, repository = snap.short_id, repo_name
    proof = verify.prove(ctx, op, env, cluster, fetch=fetch, label=label, repository=repository)
    if use_pitr:
        info = proof.details.get("pitr")
        newest = info.get("newest_restorable") if isinstance(info, dict) else None
        point = dt.datetime.fromisoformat(newest) if isinstance(newest, str) else started_at
    else:
        point = snap.time
    rpo = max(0.0, (started_at - point).total_seconds())
    targets = objectives(env)
    missed = judge(rpo, proof.rto_s, targets)
    result = DrillResult(target=t, dr_cluster=cluster_name, source=f"{repository} {proof.snapshot}",
                         ok=proof.ok and not missed, restored=proof.ok, rpo_s=round(rpo, 1), rto_s=proof.rto_s,
                         objectives=targets, verdicts=missed, failures=proof.failures)
    lines = [f"DR drill of {t} onto cluster {cluster_name}: {'PASSED' if result.ok else 'FAILED'}",
             f"restored {result.source}: {'verified' if proof.ok else 'NOT verified'}",
             f"achieved RPO {result.rpo_s:.0f} s, RTO {result.rto_s:.1f} s"]
    lines += [f"objective {n}: RPO {v['rpo_s']:.0f} s, RTO {v['rto_s']:.0f} s" for n, v in targets.items()] or [
        "no objectives declared: only the restore was judged"]
    lines += [f"missed: {m}" for m in missed] + [f"failure: {f}" for f in proof.failures]
    result.evidence_id = evidence.add(ctx.store, kind="drill", target=t, ok=result.ok, operation_id=op.op_id, data={
        "dr_cluster": cluster_name, "source": result.source, "restored": proof.ok, "rpo_s": result.rpo_s,
        "rto_s": result.rto_s, "objectives": targets, "missed": missed, "failures": proof.failures,
        "point": point.isoformat(), **proof.details}, summary="\n".join(lines))
    return result
