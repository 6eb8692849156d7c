"""The guardrails of an estate checked against what the state store has observed (evidence rows,
the worker's newest probe of each environment) and the waivers in force: one grouped query per kind
of fact, whatever the estate's size. Nothing is probed here: the worker's sweep and the operations'
evidence are the observations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from odooplane.errors import GuardrailViolated
from odooplane.estate import guardrails
from odooplane.estate.guardrails import Finding
from odooplane.estate.models import Severity
from odooplane.estate.resolve import DesiredEnvironment
from odooplane.operations.context import Context
from odooplane.store import evidence, probes, waivers

EVIDENCE_KINDS = ("backup", "restore-verification", "drill")
# What puts another environment's (or a file's) data into an environment: a clone (neutralized and
# proven), a restore --from another environment, an import of a zip (neither neutralized).
COPY_KINDS = ("restore", "clone", "import")


@dataclass(frozen=True)
class Report:
    at: dt.datetime
    findings: list[Finding]
    block_at: Severity

    def blocking(self, target: str | None = None) -> list[Finding]:
        """Unwaived violations at or above the estate's block_at (of ``target`` only, if given)."""
        return [f for f in self.findings if f.violated and guardrails.at_or_above(f.severity, self.block_at)
                and (target is None or f.target == target)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.status] = out.get(f.status, 0) + 1
        return out


def observations(ctx: Context, envs: Iterable[DesiredEnvironment], at: dt.datetime) -> dict[str, dict[str, Any]]:
    """``obs`` of each environment, from the store alone."""
    targets = [str(e.ref) for e in envs]
    newest = evidence.newest(ctx.store, EVIDENCE_KINDS)
    latest = probes.latest(ctx.store)
    copies = newest_copies(ctx, set(targets))
    out: dict[str, dict[str, Any]] = {}
    for t in targets:
        obs = guardrails.empty_observation()
        for key, kind in (("backup_age", "backup"), ("restore_proven_age", "restore-verification"),
                          ("drill_age", "drill")):
            when = newest.get((t, kind, True))
            obs[key] = at - when if when is not None else None
        probe = latest.get(t)
        if probe is not None:
            obs["health"] = probe.status
            days = [float(c["value"]) for c in probe.checks
                    if c.get("name") == "tls" and isinstance(c.get("value"), int | float)]
            obs["certificate_days"] = min(days) - (at - probe.ts).total_seconds() / 86400 if days else None
        copy = copies.get(t)
        if copy is not None:
            kind, data = copy
            source = str(data.get("source", ""))
            obs["neutralized"], obs["copied_from"] = kind == "clone", source
        out[t] = obs
    return out


def newest_copies(ctx: Context, targets: set[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The newest copy of other data into each of ``targets``: (kind, data) of its newest clone,
    import, or restore from another environment. A restore of its own backup is not one: it brings
    back what the environment held, a copy included — only a clone clears the rule."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for record in evidence.of_kinds(ctx.store, COPY_KINDS):
        if record.target in targets and (record.kind != "restore" or record.data.get("source") != record.target):
            out[record.target] = (record.kind, record.data)
    return out


def check(ctx: Context, *, observed: bool = True, targets: Sequence[DesiredEnvironment] | None = None) -> Report:
    """Every rule of the estate on ``targets`` (default: every environment), with observations from
    the store when ``observed``, and the waivers in force applied."""
    at = ctx.clock.now()
    rules, problems = guardrails.compile_rules(ctx.estate)
    assert not problems, problems  # the estate was validated: its rules compile
    envs = list(targets if targets is not None else ctx.valid.environments)
    obs = observations(ctx, envs, at) if observed else {}
    facts = [(str(e.ref), guardrails.desired_facts(ctx.estate, e), obs.get(str(e.ref)) if observed else None)
             for e in envs]
    findings = guardrails.evaluate(rules, facts)
    active = waivers.in_force(ctx.store, at)
    if active:
        findings = [_waived(f, active) for f in findings]
    return Report(at, findings, ctx.estate.guardrails.block_at)


def _waived(finding: Finding, active: list[waivers.Waiver]) -> Finding:
    if not finding.violated:
        return finding
    found = next((w for w in active if w.covers(finding.rule, finding.target)), None)
    return replace(finding, status="waived", waiver=found.id) if found is not None else finding


def gate(ctx: Context, *, what: str, targets: Sequence[DesiredEnvironment] | None = None,
         observed: bool = False) -> Report:
    """Raise GuardrailViolated naming every unwaived violation at or above guardrails.block_at
    (of ``targets``; desired state only unless ``observed``), before ``what`` changes anything."""
    report = check(ctx, observed=observed, targets=targets)
    blocking = report.blocking()
    if blocking:
        raise GuardrailViolated(
            f"{what} refused by guardrails (block_at: {report.block_at}): "
            + "; ".join(f"{f.target}: {f.rule} ({f.severity}) — {f.message}" for f in blocking[:10])
            + (f"; and {len(blocking) - 10} more" if len(blocking) > 10 else ""),
            hint="fix them, or ask for a waiver (odooplane policy waive RULE TARGET --reason …) that someone "
                 "else approves")
    return report
