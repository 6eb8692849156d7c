"""Policies as code: guardrails on placement checked by validate, each violation reported with
the policy, its rule and the path of the environment that breaks it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from odooplane.estate.models import Estate, ManagedCluster, Policy, PolicyMatch, PolicyRequire
from odooplane.estate.resolve import DesiredEnvironment


def matches(when: PolicyMatch, env: DesiredEnvironment) -> bool:
    """Return whether every key given in ``when`` matches ``env``."""
    checks: list[tuple[Sequence[str] | None, str | None]] = [
        (when.tier, env.labels.tier),
        (when.compliance, env.labels.compliance),
        (when.stage, env.stage),
        (when.business_unit, env.labels.business_unit),
        (when.customization, env.profile.customization),
    ]
    return all(allowed is None or value in allowed for allowed, value in checks)


def describe(policy: Policy) -> str:
    """``tier: mission-critical ⇒ placement: dedicated``."""
    when = ", ".join(f"{k}: {'|'.join(v)}" for k, v in policy.when.model_dump(exclude_none=True).items()) or "all"
    require = ", ".join(f"{k}: {v}" for k, v in policy.require.model_dump(exclude_none=True).items())
    return f"{when} ⇒ {require}"


def cluster_tenants(envs: list[DesiredEnvironment]) -> dict[str, set[str]]:
    users: dict[str, set[str]] = defaultdict(set)
    for env in envs:
        users[env.cluster_name].add(env.ref.tenant)
    return users


def violations(require: PolicyRequire, env: DesiredEnvironment, *, estate: Estate,
               tenants_by_cluster: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Return (field, what is wrong) for each requirement ``env`` does not meet."""
    out: list[tuple[str, str]] = []
    placement = "shared" if env.pool else "dedicated"
    if require.placement and require.placement != placement:
        out.append(("placement", f"requires {require.placement} placement, got {env.placement}"))
    if require.dedicated_cluster and tenants_by_cluster.get(env.cluster_name, set()) - {env.ref.tenant}:
        others = ", ".join(sorted(tenants_by_cluster[env.cluster_name] - {env.ref.tenant}))
        out.append(("cluster", f"requires a dedicated cluster, but cluster {env.cluster_name} also serves {others}"))
    if require.cluster_kind:
        kind = "managed" if isinstance(estate.clusters[env.cluster_name], ManagedCluster) else "external"
        if kind != require.cluster_kind:
            out.append(("cluster", f"requires a {require.cluster_kind} cluster, got {kind} ({env.cluster_name})"))
    if require.min_workers is not None and env.workers < require.min_workers:
        out.append(("workers", f"requires at least {require.min_workers} workers, got {env.workers}"))
    return out


def check(estate: Estate, envs: list[DesiredEnvironment]) -> list[tuple[tuple[str | int, ...], str]]:
    """Return (path, message) for every policy violation of the estate."""
    tenants_by_cluster = cluster_tenants(envs)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for policy in estate.policies:
        for env in envs:
            if not matches(policy.when, env):
                continue
            for field, what in violations(policy.require, env, estate=estate, tenants_by_cluster=tenants_by_cluster):
                path: tuple[str | int, ...] = ("tenants", env.ref.tenant, "environments", env.ref.env, field)
                why = f" ({policy.reason})" if policy.reason else ""
                problems.append((path, f"policy {policy.name!r} [{describe(policy)}]{why}: {what}"))
    return problems
