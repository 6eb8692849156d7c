"""Guardrails in CEL: the baseline compiles and judges the facts it is given; an estate's own rules
are checked when the estate is read (a misspelt field or a non-boolean is an error at its path);
findings say pass, fail, unknown, error or not-checked."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from odooplane.estate import guardrails
from odooplane.estate.models import Estate
from tests.unit.estate.support import HEADER, check


def estate_of(tmp_path: Path, text: str) -> tuple[Estate, list[str]]:
    valid, problems = check(tmp_path, HEADER + textwrap.dedent(text))
    return (valid.estate if valid else Estate()), problems


def findings(tmp_path: Path, text: str) -> dict[tuple[str, str], str]:
    valid, problems = check(tmp_path, HEADER + textwrap.dedent(text))
    assert valid is not None, problems
    return {(f.rule, f.target): f.status for f in guardrails.desired_findings(valid.estate, valid.environments)}


def test_the_baseline_compiles_and_reads_only_known_facts() -> None:
    rules, problems = guardrails.compile_rules(Estate())
    assert problems == []
    assert {c.rule.id for c in rules} == {r.id for r in guardrails.BASELINE}
    observed = {c.rule.id for c in rules if c.observed}
    assert observed == {"restore-proven", "backups-meet-rpo", "non-production-neutralized", "tls-valid"}


def test_an_estates_rules_are_checked_when_it_is_read(tmp_path: Path) -> None:
    _, problems = estate_of(tmp_path, """
        tenants: {acme: {environments: {prod: {}}}}
        guardrails:
          exclude: [no-such-baseline-rule]
          rules:
            - {id: typo, require: "env.wokers >= 2", explain: "x"}
            - {id: number, require: "env.workers", explain: "x"}
            - {id: syntax, when: "env.production &&", require: "true", explain: "x"}
            - {id: restore-proven, require: "true", explain: "taken"}
    """)
    text = "\n".join(problems)
    assert "guardrails.exclude[0]: no baseline rule is named 'no-such-baseline-rule'" in text
    assert "guardrails.rules[0].require: not a CEL expression over env and obs: no field 'wokers'" in text
    assert "guardrails.rules[1].require: must be a boolean (or null), got int" in text
    assert "guardrails.rules[2].when: not a CEL expression over env and obs" in text
    assert "guardrails.rules[3].id: rule id 'restore-proven' is already taken" in text
    assert all(":" in p.split(" ")[0] for p in problems)  # file:line: path: rule


def test_desired_rules_judge_the_estate_as_declared(tmp_path: Path) -> None:
    got = findings(tmp_path, """
        pools: {std: {}}
        backups:
          repositories: {local: {}, offsite: {url: "s3:http://127.0.0.1:9/b", offsite: true}}
          policies: {standard: {schedule: null}, safe: {schedule: null, targets: [local, offsite]}}
        tenants:
          shared: {labels: {compliance: regulated}, environments: {prod: {placement: {shared: std}}}}
          alone: {labels: {compliance: regulated}, environments: {prod: {backup: safe}}}
          critical: {labels: {tier: mission-critical}, environments: {prod: {backup: false}, dev: {stage: development}}}
        guardrails:
          rules:
            - {id: two-workers, severity: low, when: "env.production", require: "env.workers >= 2",
               explain: "production runs two workers"}
    """)
    assert got[("regulated-isolated", "shared/prod")] == "fail"  # shared, and its backups are not off-site
    assert got[("regulated-isolated", "alone/prod")] == "pass"
    assert got[("production-backed-up", "critical/prod")] == "fail"
    assert got[("critical-ha", "critical/prod")] == "fail"  # one host: no HA
    assert ("critical-ha", "critical/dev") not in got  # its when is false: no finding
    assert got[("no-public-database-manager", "critical/dev")] == "pass"
    assert ("restore-proven", "alone/prod") not in got  # it reads obs: validate does not observe
    assert got[("two-workers", "alone/prod")] in ("pass", "fail")
    assert ("two-workers", "critical/dev") not in got


def test_findings_of_observed_rules() -> None:
    rules, _ = guardrails.compile_rules(Estate())
    env = dict(guardrails.SAMPLE_ENV)
    proven = {**guardrails.empty_observation(), "restore_proven_age": dt.timedelta(days=3),
              "backup_age": dt.timedelta(minutes=30), "certificate_days": 90.0}
    stale = {**proven, "restore_proven_age": dt.timedelta(days=9), "backup_age": dt.timedelta(hours=2),
             "certificate_days": None}
    got = {(f.target, f.rule): f.status for f in guardrails.evaluate(rules, [
        ("proven", env, proven), ("stale", env, stale), ("unobserved", env, None)])}
    assert got[("proven", "restore-proven")] == "pass"
    assert got[("stale", "restore-proven")] == "fail"  # 9 days > weekly + 1 day
    assert got[("proven", "backups-meet-rpo")] == "pass"
    assert got[("stale", "backups-meet-rpo")] == "fail"  # 2 h > 1 h RPO
    assert got[("proven", "tls-valid")] == "pass"
    assert got[("stale", "tls-valid")] == "unknown"  # no certificate observed: not claimed either way
    assert got[("unobserved", "restore-proven")] == "not-checked"
    copied = {**proven, "neutralized": False, "copied_from": "t/prod"}
    staging = {**env, "stage": "staging", "production": False}
    (neutral,) = [f for f in guardrails.evaluate(rules, [("t/staging", staging, copied)])
                  if f.rule == "non-production-neutralized"]
    assert neutral.status == "fail" and neutral.violated


def test_a_rule_that_cannot_be_evaluated_is_an_error_finding_that_counts_as_violated(tmp_path: Path) -> None:
    estate, problems = estate_of(tmp_path, """
        tenants: {acme: {environments: {prod: {}}}}
        guardrails:
          rules:
            - {id: per-worker, severity: high, require: '100 / env.workers > 10', explain: "x"}
    """)
    assert problems == []  # the sample environment has workers: it evaluates there
    rules, _ = guardrails.compile_rules(estate)
    threaded = {**guardrails.SAMPLE_ENV, "workers": 0}
    (finding,) = [f for f in guardrails.evaluate(rules, [("acme/prod", threaded, None)]) if f.rule == "per-worker"]
    assert finding.status == "error" and finding.violated and "cannot be evaluated" in finding.message


def test_severity_order() -> None:
    assert guardrails.at_or_above("critical", "high")
    assert guardrails.at_or_above("high", "high")
    assert not guardrails.at_or_above("medium", "high")
