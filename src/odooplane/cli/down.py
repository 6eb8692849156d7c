from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, err, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("down")
    def down(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        purge: bool = typer.Option(False, "--purge", help="Also drop databases, roles, filestores, managed clusters."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --purge."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Stop every process of the estate (Odoo, Traefik, managed PostgreSQL)."""
        from odooplane.actions import down as action

        if purge and not yes and not typer.confirm("Drop every database and filestore of this estate?"):
            raise typer.Exit(ExitCode.FAILED)
        with errors():
            result = action.run(estate, purge=purge)
        if as_json:
            print_json(result.__dict__)
        else:
            console.print("[green]stopped[/]" + (f"; purged {len(result.purged)} object(s)" if purge else ""))
            for failure in result.failures:
                err.print(f"[bold red]error:[/] {failure}")
        if result.failures:
            raise typer.Exit(ExitCode.FAILED)
