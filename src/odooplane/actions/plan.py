"""``plan``: what apply would change, from what is observed now (a dry run of apply)."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.errors import KubernetesEstate
from odooplane.operations import observe
from odooplane.operations.context import Context
from odooplane.planner import plan as planner


def run(path: Path | None, *, prune: bool = False, retry_failed: bool = False, probe: bool = False) -> planner.Plan:
    """Plan from what is observed now. Health comes from the last sweep where it is recent (no
    request per environment); ``probe`` asks every process now, as apply does."""
    ctx = estate_file.context(path)
    if ctx.valid.estate.platform.driver == "kubernetes":
        ctx.close()
        raise KubernetesEstate(ctx.valid.path)
    try:
        return plan_in(ctx, prune=prune, retry_failed=retry_failed, probe=probe)
    finally:
        ctx.close()


def plan_in(ctx: Context, *, prune: bool = False, retry_failed: bool = False, probe: bool = False) -> planner.Plan:
    """The plan of an open context (the service keeps one)."""
    from odooplane.actions.apply import template_sources

    observed, _ = observe.observe(ctx, health="probe" if probe else "recorded")
    return planner.plan(ctx.valid, observed, prune=prune, templates=template_sources(ctx), retry_failed=retry_failed)
