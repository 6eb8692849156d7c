from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from odooplane.cli.output import console, errors, print_json
from odooplane.cli.policy import finding_json


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
            data = {k: v for k, v in summary.__dict__.items() if k != "guardrail_violations"}
            print_json({"valid": True, **data,
                        "guardrail_violations": [finding_json(f) for f in summary.guardrail_violations]})
            return
        console.print(
            f"[green]valid[/]: {summary.path}: {summary.tenants} tenant(s), {summary.environments} environment(s), "
            f"{summary.stacks} stack(s), {summary.clusters} cluster(s), {summary.hostnames} hostname(s)"
        )
        for f in summary.guardrail_violations:
            console.print(Text.assemble(("guardrail", "yellow"), f" {f.rule} ({f.severity}) {f.target}: {f.message}"))
