from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import KubernetesEstate

if TYPE_CHECKING:
    from odooplane.planner.plan import Plan

ACTION_STYLE = {"create": "green", "install": "green", "start": "green", "update": "yellow", "restart": "yellow",
                "recreate": "yellow", "remove": "red", "retain": "dim", "check": "cyan", "move": "magenta",
                "recover": "yellow", "upgrade": "magenta", "hold": "red"}


def print_plan(plan: Plan) -> None:
    if plan.empty:
        console.print("[green]No changes.[/] What runs matches the estate.")
    table = Table(title=None if plan.empty else "Changes", show_lines=False)
    for column in ("target", "resource", "action", "why"):
        table.add_column(column)
    for change in plan.changes:
        style = ACTION_STYLE.get(change.action, "")
        table.add_row(change.target, change.resource, f"[{style}]{change.action}[/]", change.reason)
    if plan.changes:
        console.print(table)
    for note in plan.notes:
        console.print(f"note: {note}")


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
        prune: bool = typer.Option(False, "--prune", help="Also plan dropping data of removed environments."),
        as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
        retry_failed: bool = typer.Option(False, "--retry-failed", help="Plan as apply --retry-failed would: "
                                          "the upgrades that failed and were rolled back, tried again."),
        probe: bool = typer.Option(False, "--probe", help="Ask every Odoo process for its health now, as apply "
                                   "does (default: the last health sweep's result where it is recent)."),
    ) -> None:
        """Show what apply would change, from what runs now (nothing is changed)."""
        from odooplane.actions import plan as action

        try:
            with errors(handled=(KubernetesEstate,)):
                result = action.run(estate, prune=prune, retry_failed=retry_failed, probe=probe)
        except KubernetesEstate as exc:  # what the API server would change: a server-side dry run
            from odooplane.cli import kubernetes

            kubernetes.apply_estate(exc.path, dry_run=True, as_json=as_json)
            return
        if as_json:
            print_json(result.as_dict())
        else:
            print_plan(result)
