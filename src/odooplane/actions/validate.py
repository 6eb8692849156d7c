"""``validate``: check an estate file in every stage and summarise it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from odooplane.actions import estate_file


@dataclass(frozen=True)
class Summary:
    path: str
    tenants: int
    environments: int
    stacks: int
    clusters: int
    hostnames: int


def run(path: Path | None) -> Summary:
    """Validate the estate; return a summary. Raise EstateInvalid listing every problem."""
    valid = estate_file.load(path)
    estate = valid.estate
    return Summary(
        path=str(valid.path),
        tenants=len(estate.tenants),
        environments=len(valid.environments),
        stacks=len(estate.stacks),
        clusters=len(estate.clusters),
        hostnames=sum(len(e.hostnames) for e in valid.environments),
    )
