from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("credentials")
    def credentials(
        target: str = typer.Argument(..., help="tenant/env, e.g. acme/prod."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Print the admin login of an environment (generated at creation, stored encrypted)."""
        from odooplane.actions import credentials as action

        with errors():
            result = action.run(estate, target)
        if as_json:
            print_json(result.__dict__)
            return
        console.print(f"{result.url}\nlogin: {result.login}\npassword: {result.password}", markup=False)
