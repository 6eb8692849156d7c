from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json, styled
from odooplane.errors import NotFound


def register(app: typer.Typer) -> None:
    @app.command("evidence")
    def evidence(
        evidence_id: int = typer.Argument(None, help="Show this record in full (JSON and summary)."),
        target: str = typer.Option(None, "--target", "-t", help="Only this environment (tenant/env)."),
        kind: str = typer.Option(None, "--kind", "-k",
                                 help="backup, restore-verification, drill, repository-check, …"),
        limit: int = typer.Option(50, "--limit", "-n", help="How many records."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """What has been proven: confirmed backups, verified restores, drills, repository checks."""
        from odooplane.actions import evidence as action

        with errors():
            if evidence_id is not None:
                item = action.one(estate, evidence_id)
                if item is None:
                    raise NotFound(f"evidence #{evidence_id} does not exist")
                if as_json:
                    print_json(item.__dict__)
                else:
                    console.print(item.summary, markup=False)
                return
            items = action.run(estate, target=target, kind=kind, limit=limit)
        if as_json:
            print_json([i.__dict__ for i in items])
            return
        table = Table()
        for column in ("#", "time (UTC)", "kind", "target", "result", "summary"):
            table.add_column(column, overflow="fold")
        for i in items:
            table.add_row(str(i.id), f"{i.ts:%Y-%m-%d %H:%M:%S}", i.kind, i.target,
                          styled("ok") if i.ok else styled("failed"), i.summary.splitlines()[0])
        console.print(table)
