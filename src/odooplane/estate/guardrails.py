"""Guardrails as code: rules in CEL (the Common Expression Language) over each environment's
desired state (``env``) and what has been observed of it (``obs``), with the shipped baseline.

A rule applies where ``when`` is true and holds where ``require`` is true; ``require`` may answer
null for "not known yet" (an observation that has not been made). A rule that reads ``obs`` is an
observed rule: ``validate`` checks only the others (it observes nothing), ``policy check``, the
promotion gate and the worker check all. Waivers and where findings go are the callers' business
(operations/guardrails.py); this module only compiles and evaluates."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cel

from odooplane.estate import durations
from odooplane.estate.models import Estate, ExternalCluster, GuardrailRule, ManagedCluster, Severity
from odooplane.estate.resolve import DesiredEnvironment

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
Status = Literal["pass", "fail", "unknown", "error", "waived", "not-checked"]

# How long after a backup policy's verification is due a restore proof is still current.
VERIFY_WITHIN = {"after-each": dt.timedelta(days=2), "daily": dt.timedelta(days=2),
                 "weekly": dt.timedelta(days=8), "never": dt.timedelta(days=8)}

BASELINE: tuple[GuardrailRule, ...] = (
    GuardrailRule(
        id="production-backed-up", severity="high", when="env.production",
        require='env.backup.policy != ""',
        explain="production is backed up by a backup policy",
        fix="give the environment (or its tier, or backups.default_policy) a backup policy"),
    GuardrailRule(
        id="restore-proven", severity="high", when='env.production && env.backup.policy != ""',
        require="obs.restore_proven_age != null && obs.restore_proven_age <= env.backup.verify_within",
        explain="production has a restore proven (a backup restored in a sandbox and checked) younger than "
                "its policy's verification interval",
        fix="odooplane verify TENANT/ENV (the worker does it on the policy's verify schedule)"),
    GuardrailRule(
        id="backups-meet-rpo", severity="high", when="env.production && env.objectives.rpo != null",
        require="env.cluster.pitr || (obs.backup_age != null && obs.backup_age <= env.objectives.rpo)",
        explain="production's newest confirmed backup is younger than its recovery point objective (or its "
                "cluster archives WAL for point-in-time recovery)",
        fix="back up at least once per RPO (the policy's schedule), or turn on pitr on a managed cluster"),
    GuardrailRule(
        id="regulated-isolated", severity="critical", when='env.production && env.compliance == "regulated"',
        require='env.placement == "dedicated" && env.backup.encrypted && env.backup.offsite',
        explain="a regulated tenant's production runs on its own (dedicated) with encrypted off-site backups",
        fix="placement: dedicated, and a backup policy whose targets include a repository with offsite: true"),
    GuardrailRule(
        id="no-public-database-manager", severity="critical", when="true",
        require="env.edge.database_manager_blocked && !env.edge.list_db",
        explain="Odoo's database manager (/web/database, the db RPC service) is not reachable from outside and "
                "databases are not listed",
        fix="the edge blocks it for every hostname: an options: list_db override would be refused"),
    GuardrailRule(
        id="non-production-neutralized", severity="high",
        when='!env.production && env.stage != "dr"',
        require="obs.neutralized != false",
        explain="a non-production environment holds no un-neutralized copy of another environment's data "
                "(mail, crons, payment and delivery credentials)",
        fix="refresh it with odooplane clone (which neutralizes and proves it) instead of restore --from"),
    GuardrailRule(
        id="tls-valid", severity="medium", when="env.tls && size(env.hostnames) > 0",
        require="obs.certificate_days == null ? null : obs.certificate_days > 14.0",
        explain="every hostname's certificate is valid for more than 14 days",
        fix="renew the certificate (platform.edge.tls.certificates) before it expires"),
    GuardrailRule(
        id="production-never-sleeps", severity="critical", when='env.production || env.stage == "dr"',
        require='env.schedule == ""',
        explain="production and disaster recovery never sleep (no sleep schedule applies to them)",
        fix="schedule: false on the environment, or narrow the schedule's applies_to to non-production stages"),
    GuardrailRule(
        id="critical-ha", severity="high", when='env.production && env.tier == "mission-critical"',
        require="env.cluster.ha",
        explain="a mission-critical production database is highly available (kubernetes: a CloudNativePG "
                "cluster of 3 instances with a synchronous standby; external: declared ha)",
        fix="run the estate on kubernetes, or place it on an external cluster with ha: true"),
)

_OBS = re.compile(r"\bobs\b")


@dataclass(frozen=True)
class Compiled:
    rule: GuardrailRule
    baseline: bool
    observed: bool  # reads obs: checked only where observations are given
    when: cel.Program
    require: cel.Program


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    target: str
    status: Status
    message: str  # the rule's explanation, or the evaluation error
    fix: str
    waiver: int | None = None

    @property
    def violated(self) -> bool:
        return self.status in ("fail", "error")


def at_or_above(severity: Severity, floor: Severity) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(floor)


def rules_of(estate: Estate) -> list[tuple[GuardrailRule, bool]]:
    """The rules the estate checks: (rule, from the baseline)."""
    g = estate.guardrails
    out = [(r, True) for r in BASELINE if g.baseline and r.id not in g.exclude]
    return out + [(r, False) for r in g.rules]


def compile_rules(estate: Estate) -> tuple[list[Compiled], list[tuple[tuple[str | int, ...], str]]]:
    """Compile every rule; check each against sample facts so that a misspelt field is an error
    now, not a finding later. Return the rules and (path, problem) for each that does not compile."""
    out: list[Compiled] = []
    problems: list[tuple[tuple[str | int, ...], str]] = []
    g = estate.guardrails
    baseline_ids = {r.id for r in BASELINE}
    for i, unknown in enumerate(g.exclude):
        if unknown not in baseline_ids:
            problems.append((("guardrails", "exclude", i), f"no baseline rule is named {unknown!r} "
                                                           f"(baseline: {', '.join(sorted(baseline_ids))})"))
    seen: set[str] = set()
    for i, rule in enumerate(g.rules):
        if rule.id in baseline_ids or rule.id in seen:
            problems.append((("guardrails", "rules", i, "id"), f"rule id {rule.id!r} is already taken"))
        seen.add(rule.id)
    sample = {"env": SAMPLE_ENV, "obs": SAMPLE_OBS}
    for rule, baseline in rules_of(estate):
        where: tuple[str | int, ...] = (("guardrails", "baseline", rule.id) if baseline else
                                        ("guardrails", "rules", g.rules.index(rule)))
        programs = []
        for field in ("when", "require"):
            text = getattr(rule, field)
            try:
                program = cel.compile(text)
                value = program.execute(sample)
            except Exception as exc:  # whatever CEL raises: the rule is refused at its path
                problems.append(((*where, field), f"not a CEL expression over env and obs: {_reason(exc)}"))
                break
            if not (isinstance(value, bool) or (value is None and field == "require")):
                problems.append(((*where, field), f"must be a boolean{' (or null)' if field == 'require' else ''}, "
                                                  f"got {type(value).__name__}"))
                break
            programs.append(program)
        else:
            observed = bool(_OBS.search(rule.when) or _OBS.search(rule.require))
            out.append(Compiled(rule, baseline, observed, programs[0], programs[1]))
    return out, problems


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r}"
    return str(exc).splitlines()[0][:300]


def desired_facts(estate: Estate, env: DesiredEnvironment) -> dict[str, Any]:
    """What ``env`` in a rule is: the environment as the estate declares it."""
    policy = estate.backups.policies.get(env.backup_policy) if env.backup_policy else None
    repos = [estate.backups.repositories[t] for t in (policy.targets if policy else ())
             if t in estate.backups.repositories]
    cluster = env.cluster
    driver = estate.platform.driver
    ha = (cluster.ha if isinstance(cluster, ExternalCluster) else
          driver == "kubernetes" and env.labels.tier == "mission-critical")
    objectives = env.objectives
    options = dict(env.options)
    return {
        "target": str(env.ref), "tenant": env.ref.tenant, "name": env.ref.env, "stage": env.stage,
        "production": env.stage == "production", "tier": env.labels.tier, "compliance": env.labels.compliance,
        "business_unit": env.labels.business_unit or "", "brand": env.labels.brand or "",
        "site": env.labels.site or "", "labels": {k: str(v or "") for k, v in env.labels.model_dump().items()},
        "placement": "shared" if env.pool else "dedicated", "pool": env.pool or "",
        "cluster": {"name": env.cluster_name, "kind": cluster.kind, "ha": ha,
                    "pitr": isinstance(cluster, ManagedCluster) and cluster.pitr is not None and driver != "kubernetes",
                    "region": cluster.region or ""},
        "driver": driver, "workers": env.workers, "hostnames": list(env.hostnames), "modules": list(env.modules),
        "release": env.release or "", "stateless": env.stateless is not None, "schedule": env.schedule or "",
        "backup": {
            "policy": env.backup_policy or "", "targets": list(policy.targets) if policy else [],
            "schedule": (policy.schedule or "") if policy else "",
            "verify": policy.verify if policy else "never",
            "verify_within": VERIFY_WITHIN[policy.verify if policy else "never"],
            "offsite": any(r.offsite for r in repos),
            "encrypted": bool(repos),  # restic encrypts every repository
        },
        "objectives": {"rpo": durations.parse(objectives.rpo) if objectives else None,
                       "rto": durations.parse(objectives.rto) if objectives else None},
        "tls": estate.platform.edge.tls is not None,
        # The edge refuses Odoo's database manager on every route (render/traefik.py) and odoo.conf
        # says list_db = False; an estate's options cannot set list_db (a managed key).
        "edge": {"database_manager_blocked": True, "list_db": bool(options.get("list_db", False))},
    }


def empty_observation() -> dict[str, Any]:
    """``obs`` of an environment nothing has been observed of."""
    return {"backup_age": None, "restore_proven_age": None, "drill_age": None, "certificate_days": None,
            "health": "unknown", "neutralized": None, "copied_from": ""}


SAMPLE_ENV: dict[str, Any] = {
    "target": "t/prod", "tenant": "t", "name": "prod", "stage": "production", "production": True,
    "tier": "standard", "compliance": "none", "business_unit": "bu", "brand": "b", "site": "s",
    "labels": {"business_unit": "bu", "brand": "b", "site": "s", "cost_centre": "cc", "tier": "standard",
               "compliance": "none"},
    "placement": "dedicated", "pool": "",
    "cluster": {"name": "main", "kind": "managed", "ha": False, "pitr": False, "region": ""},
    "driver": "local", "workers": 2, "hostnames": ["t.example.com"], "modules": ["sale"], "release": "",
    "stateless": False, "schedule": "",
    "backup": {"policy": "standard", "targets": ["local"], "schedule": "0 2 * * *", "verify": "weekly",
               "verify_within": dt.timedelta(days=8), "offsite": False, "encrypted": True},
    "objectives": {"rpo": dt.timedelta(hours=1), "rto": dt.timedelta(hours=4)},
    "tls": True, "edge": {"database_manager_blocked": True, "list_db": False},
}
SAMPLE_OBS: dict[str, Any] = {
    "backup_age": dt.timedelta(hours=3), "restore_proven_age": dt.timedelta(days=1),
    "drill_age": dt.timedelta(days=30), "certificate_days": 40.0, "health": "ok", "neutralized": True,
    "copied_from": "t/prod",
}


def evaluate(rules: Sequence[Compiled], facts: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]],
             ) -> list[Finding]:
    """Each rule against each (target, env facts, observation or None): a finding wherever the rule
    applies. Observed rules are 'not-checked' where no observation is given."""
    out: list[Finding] = []
    for target, env, obs in facts:
        context = {"env": env, "obs": obs if obs is not None else empty_observation()}
        for c in rules:
            rule = c.rule
            try:
                if not c.when.execute(context):
                    continue
                if c.observed and obs is None:
                    out.append(Finding(rule.id, rule.severity, target, "not-checked", rule.explain, rule.fix))
                    continue
                value = c.require.execute(context)
            except Exception as exc:  # a rule failing at run time is a finding, never a crash
                out.append(Finding(rule.id, rule.severity, target, "error", f"cannot be evaluated: {_reason(exc)}",
                                   rule.fix))
                continue
            status: Status = "unknown" if value is None else ("pass" if value is True else "fail")
            out.append(Finding(rule.id, rule.severity, target, status, rule.explain, rule.fix))
    return out


def desired_findings(estate: Estate, envs: Iterable[DesiredEnvironment]) -> list[Finding]:
    """The findings of the rules that read only the estate (what validate checks, without waivers)."""
    rules, _ = compile_rules(estate)
    return evaluate([c for c in rules if not c.observed],
                    [(str(e.ref), desired_facts(estate, e), None) for e in envs])
