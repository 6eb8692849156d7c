"""``validate``: check an estate file in every stage and summarise it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from odooplane.actions import estate_file
from odooplane.estate import guardrails


@dataclass(frozen=True)
class Summary:
    path: str
    tenants: int
    environments: int
    stacks: int
    clusters: int
    hostnames: int
    guardrail_violations: list[guardrails.Finding] = field(default_factory=list)  # unwaived, below block_at


def run(path: Path | None) -> Summary:
    """Validate the estate; return a summary. Raise EstateInvalid listing every problem, and
    GuardrailViolated if the estate breaks a guardrail at or above guardrails.block_at (waivers in
    force are looked up in the state store only then)."""
    valid = estate_file.load(path)
    estate = valid.estate
    violated = [f for f in guardrails.desired_findings(estate, valid.environments) if f.violated]
    if any(guardrails.at_or_above(f.severity, estate.guardrails.block_at) for f in violated):
        from odooplane.operations import guardrails as checking

        ctx = estate_file.context(valid.path)
        try:
            violated = [f for f in checking.gate(ctx, what="the estate", observed=False).findings if f.violated]
        finally:
            ctx.close()
    return Summary(
        path=str(valid.path),
        tenants=len(estate.tenants),
        environments=len(valid.environments),
        stacks=len(estate.stacks),
        clusters=len(estate.clusters),
        hostnames=sum(len(e.hostnames) for e in valid.environments),
        guardrail_violations=violated,
    )
