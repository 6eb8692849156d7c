from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Check the estate file in every stage (YAML, schema, cross-checks); list every problem with its path."""
        from odooplane.actions import validate as action

        with errors():
            summary = action.run(estate)
        if as_json:
            print_json({"valid": True, **summary.__dict__})
            return
        console.print(
            f"[green]valid[/]: {summary.path}: {summary.tenants} tenant(s), {summary.environments} environment(s), "
            f"{summary.stacks} stack(s), {summary.clusters} cluster(s), {summary.hostnames} hostname(s)"
        )
