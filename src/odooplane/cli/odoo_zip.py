from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        target: str = typer.Argument(..., help="tenant/env."),
        out: Path = typer.Argument(..., help="The zip to write (Odoo database-manager format)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write an environment as Odoo's own backup zip (dump.sql, filestore/, manifest.json)."""
        from odooplane.actions import odoo_zip as action

        with errors():
            result = action.export(estate, target, out)
        if as_json:
            print_json(result.__dict__)
        else:
            console.print(f"[green]exported[/] {result.target} to {result.path} ({result.files} files)")

    @app.command("import")
    def import_(
        target: str = typer.Argument(..., help="tenant/env to create or replace."),
        source: Path = typer.Option(..., "--from", help="A zip made by Odoo's database manager."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing an environment's "
                                 "database (a new, empty environment is never asked about)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                    "./estate.yaml; never the estate last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Import Odoo's backup zip: read within size limits, SQL (never through psql) as the environment's own
        role in one transaction stopping at the first error, attachments checked, a new identity; the
        environment is replaced only once the copy verifies."""
        from odooplane.actions import estate_file
        from odooplane.actions import odoo_zip as action

        with errors():
            named = estate_file.named(estate, destructive="import")
            # Only replacing data deserves a question: a new, empty environment is just filled.
            replacing = not yes and not as_json and action.would_replace(named.path, target)
        if replacing and not typer.confirm(f"Replace the database of {target} of {named} with {source}?"):
            raise typer.Exit(1)
        with errors():
            result = action.import_(named.path, target, source)
        if as_json:
            print_json({**result.__dict__, "estate": named.name, "estate_file": str(named.path)})
        else:
            console.print(f"[green]imported[/] {escape(str(result.path))} into {result.target} of "
                          f"{escape(str(named))} ({result.files} files)")
            if result.skipped:
                skipped = "; ".join(f"{why}: {n}" for why, n in result.skipped.items())
                console.print(f"statements of dump.sql not run: {skipped}", markup=False)
