from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        sample_estate: bool = typer.Option(False, "--sample", help="Print a commented sample estate instead."),
        markdown: bool = typer.Option(False, "--markdown", help="Print the reference documentation instead."),
    ) -> None:
        """Print the JSON Schema of the estate file (for editors and CI)."""
        from odooplane.estate import models, sample

        if sample_estate:
            typer.echo(sample.render(), nl=False)
        elif markdown:
            typer.echo(sample.reference_markdown())
        else:
            typer.echo(json.dumps(models.json_schema(), indent=2, sort_keys=True))
