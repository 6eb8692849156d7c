from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("advise")
    def advise(
        tenant: str = typer.Argument(None, help="Only this tenant."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Recommend shared or dedicated placement per environment, and explain why (docs/placement.md)."""
        from odooplane.actions import advise as action

        with errors():
            advice = action.run(estate, tenant=tenant)
        if as_json:
            print_json([{"target": a.target, "current": a.current, "recommended": a.recommended, "agrees": a.agrees,
                         "rules": [r.__dict__ for r in a.rules]} for a in advice])
            return
        table = Table(show_lines=True)
        for column in ("environment", "now", "recommended", "why"):
            table.add_column(column, overflow="fold")
        for a in advice:
            mark = "[green]" if a.agrees else "[yellow]"
            why = "\n".join(f"{r.code}: {r.reason}" for r in a.rules)
            table.add_row(a.target, a.current, f"{mark}{a.recommended}[/]", why)
        console.print(table)
