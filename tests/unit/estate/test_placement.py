"""Placement rules: validation of pools and shared environments, policies, the advisor, sizing."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from odooplane.estate import advisor, sizing, validate

BASE = """
platform: {default_stack: sim, default_cluster: main}
clusters:
  main: {kind: managed, region: eu}
  other: {kind: managed}
stacks: {sim: {series: "18.0", simulator: true}}
pools:
  shared18: {processes: 2, workers: 2}
tenants:
  acme:
    labels: {tier: mission-critical, compliance: none}
    profile: {peak_users: 60, customization: heavy, rpo_minutes: 5, data_residency: eu}
    environments:
      prod: {}
      staging: {placement: {shared: shared18}}
  beta:
    labels: {tier: standard, compliance: regulated}
    environments:
      prod: {placement: {shared: shared18}}
"""


def check(tmp_path: Path, text: str) -> tuple[validate.ValidEstate | None, list[str]]:
    path = tmp_path / "estate.yaml"
    path.write_text(textwrap.dedent(text))
    valid, problems = validate.check(path)
    return valid, [str(p) for p in problems]


def test_shared_environments_resolve_to_their_pool(tmp_path: Path) -> None:
    valid, problems = check(tmp_path, BASE)
    assert problems == [] and valid is not None
    staging = valid.environment(next(e.ref for e in valid.environments if str(e.ref) == "acme/staging"))
    assert staging is not None and staging.pool == "shared18" and staging.role == "pool_shared18"
    assert staging.workers == 2 and staging.placement == "shared:shared18"
    assert [str(e.ref) for e in valid.pool_members("shared18")] == ["acme/staging", "beta/prod"]


def test_pool_settings_cannot_be_set_on_a_shared_environment(tmp_path: Path) -> None:
    text = BASE.replace("staging: {placement: {shared: shared18}}",
                        "staging: {placement: {shared: shared18}, workers: 4, cluster: other}")
    _, problems = check(tmp_path, text)
    assert any("environments.staging.workers: workers of a shared environment is set on its pool" in p
               for p in problems)
    assert any("environments.staging.cluster: cluster 'other' differs from the pool's" in p for p in problems)


def test_unknown_pool(tmp_path: Path) -> None:
    _, problems = check(tmp_path, BASE.replace("staging: {placement: {shared: shared18}}",
                                               "staging: {placement: {shared: nope}}"))
    assert any("environments.staging.placement.shared: unknown pool 'nope' (known: shared18)" in p for p in problems)


def test_policy_violations_name_the_rule_and_the_path(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent("""
    policies:
      - {name: critical-dedicated, when: {tier: [mission-critical]}, require: {placement: dedicated}}
      - {name: regulated-own-cluster, when: {compliance: [regulated]}, require: {dedicated_cluster: true},
         reason: auditors}
      - {name: prod-workers, when: {stage: [production]}, require: {min_workers: 2}}
    """)
    _, problems = check(tmp_path, text)
    joined = "\n".join(problems)
    assert ("tenants.acme.environments.staging.placement: policy 'critical-dedicated' "
            "[tier: mission-critical ⇒ placement: dedicated]: "
            "requires dedicated placement, got shared:shared18") in joined
    assert "tenants.beta.environments.prod.cluster: policy 'regulated-own-cluster'" in joined
    assert "(auditors): requires a dedicated cluster, but cluster main also serves acme" in joined
    assert "tenants.acme.environments.prod.workers: policy 'prod-workers'" in joined
    assert "requires at least 2 workers, got 0" in joined


def test_a_satisfied_policy_passes(tmp_path: Path) -> None:
    text = BASE.replace("staging: {placement: {shared: shared18}}", "staging: {}") + textwrap.dedent("""
    policies:
      - {name: critical-dedicated, when: {tier: [mission-critical]}, require: {placement: dedicated}}
    """)
    valid, problems = check(tmp_path, text)
    assert problems == [] and valid is not None


def test_advisor_explains_rule_by_rule(tmp_path: Path) -> None:
    valid, _ = check(tmp_path, BASE)
    assert valid is not None
    advice = {str(e.ref): advisor.advise(e, cluster_region=e.cluster.region) for e in valid.environments}
    prod = advice["acme/prod"]
    assert prod.recommended == "dedicated (own cluster)"
    assert [r.code for r in prod.rules] == ["mission-critical", "customization", "load", "objectives"]
    assert advice["acme/staging"].recommended == "dedicated"  # heavy customization, whatever the stage
    beta = advice["beta/prod"]
    assert beta.recommended == "dedicated (own cluster)" and beta.rules[0].code == "regulated"
    assert not beta.agrees


def test_advisor_recommends_shared_for_plain_tenants(tmp_path: Path) -> None:
    text = BASE.replace("labels: {tier: mission-critical, compliance: none}", "labels: {tier: standard}").replace(
        "profile: {peak_users: 60, customization: heavy, rpo_minutes: 5, data_residency: eu}", "profile: {}")
    valid, _ = check(tmp_path, text)
    assert valid is not None
    staging = next(e for e in valid.environments if str(e.ref) == "acme/staging")
    advice = advisor.advise(staging, cluster_region="eu")
    assert advice.recommended == "shared" and advice.agrees and advice.rules[0].code == "non-production"


def test_sizing_follows_odoo_guidance(tmp_path: Path) -> None:
    valid, _ = check(tmp_path, BASE)
    assert valid is not None
    prod = next(e for e in valid.environments if str(e.ref) == "acme/prod")
    size = sizing.for_dedicated(prod)
    assert size.users == 60 and size.workers_recommended == 10  # 60 users / 6 per worker
    assert size.ram_recommended_mib == sizing.PROCESS_OVERHEAD_MIB + 10 * sizing.RAM_PER_WORKER_MIB
    pool = valid.pools[0]
    pooled = sizing.for_pool(pool, valid.pool_members(pool.name))
    assert pooled.tenants == 2 and pooled.workers_now == 4
    # 2 processes x (2 workers + 1 cron + 1 evented), each holding a connection per database it served (2 + 1).
    assert pooled.connections_max == 2 * 4 * 3
    assert pooled.users == 6 + 10  # acme staging 10% of 60, beta prod 10 users (the default profile)
    # Crons: each of the 2 processes visits its share of the tenants (CRC-32 of the database name).
    shares = [sizing.cron_partition(env.database, 2) for env in valid.pool_members(pool.name)]
    assert pooled.cron_share_max == max(shares.count(0), shares.count(1))
    assert pooled.registry_lru == pool.limits.memory_soft_mib // 15
    one = dataclasses.replace(pool, processes=1)
    assert sizing.cron_share_max(one, ["a", "b", "c"]) == 3  # one process: all of them
    assert sizing.cron_share_max(pool, [f"t{i}" for i in range(1000)]) < 560  # two: about half each
    assert sizing.machine_workers(2) == 5
