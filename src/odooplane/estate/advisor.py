"""The placement advisor: from what a tenant is (tier, compliance, customization, peak users,
RPO/RTO, data residency) and what an environment is for (its stage), recommend shared or
dedicated placement — and say why, rule by rule. The rules are documented in docs/placement.md;
policies in the estate can make any of them mandatory."""

from __future__ import annotations

from dataclasses import dataclass, field

from odooplane.estate.resolve import DesiredEnvironment

# Above this many concurrent users an environment needs more workers than it may take from a
# pool shared with others (Odoo: 1 worker for ~6 users; a pool is sized ~2xCPU+1 workers).
SHARED_USERS_MAX = 30
STRICT_RPO_MINUTES = 5
STRICT_RTO_MINUTES = 15


@dataclass(frozen=True)
class Rule:
    code: str
    placement: str  # "dedicated", "dedicated-cluster" or "shared"
    reason: str


@dataclass
class Advice:
    target: str
    current: str
    recommended: str  # "dedicated", "dedicated (own cluster)" or "shared"
    rules: list[Rule] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        if self.recommended == "shared":
            return self.current.startswith("shared:")
        return self.current == "dedicated"


def advise(env: DesiredEnvironment, *, cluster_region: str | None = None) -> Advice:
    """Apply the rules in order; any rule asking for dedicated placement wins over shared."""
    labels, profile = env.labels, env.profile
    production = env.stage in ("production", "dr")
    rules: list[Rule] = []
    if labels.compliance == "regulated":
        rules.append(Rule("regulated", "dedicated-cluster",
                          "regulated data: own processes and its own PostgreSQL cluster, so no other tenant's "
                          "role, backup or restore ever touches it"))
    if labels.tier == "mission-critical" and production:
        rules.append(Rule("mission-critical", "dedicated",
                          "mission-critical: a crash, a restart or an upgrade of another tenant must not affect it, "
                          "and it gets its own maintenance window"))
    if profile.customization == "heavy":
        rules.append(Rule("customization", "dedicated",
                          "heavy customization: its own addons and release cycle; a pool runs one stack with one set "
                          "of addons for every tenant"))
    if production and profile.peak_users > SHARED_USERS_MAX:
        rules.append(Rule("load", "dedicated",
                          f"{profile.peak_users} concurrent users at peak: more than a pool shared with others "
                          f"should give one tenant (> {SHARED_USERS_MAX}); size its own workers"))
    if production and ((profile.rpo_minutes is not None and profile.rpo_minutes <= STRICT_RPO_MINUTES) or
                       (profile.rto_minutes is not None and profile.rto_minutes <= STRICT_RTO_MINUTES)):
        rules.append(Rule("objectives", "dedicated-cluster",
                          f"strict objectives (RPO {profile.rpo_minutes} min, RTO {profile.rto_minutes} min): "
                          "point-in-time recovery and failover of its own cluster"))
    if profile.data_residency and cluster_region != profile.data_residency:
        rules.append(Rule("residency", "dedicated-cluster",
                          f"data must stay in {profile.data_residency} but cluster {env.cluster_name} is in "
                          f"{cluster_region or 'no declared region'}: a cluster in {profile.data_residency}"))
    if not production and not any(r.placement != "shared" for r in rules):
        rules.append(Rule("non-production", "shared",
                          f"{env.stage}: a pool serves it for a fraction of the memory (one process for many "
                          "databases)"))
    if not rules:
        rules.append(Rule("default", "shared",
                          f"{labels.tier} tier, {profile.peak_users} users, {profile.customization} customization: "
                          "nothing asks for its own processes"))
    if any(r.placement == "dedicated-cluster" for r in rules):
        recommended = "dedicated (own cluster)"
    elif any(r.placement == "dedicated" for r in rules):
        recommended = "dedicated"
    else:
        recommended = "shared"
    return Advice(str(env.ref), env.placement, recommended, rules)
