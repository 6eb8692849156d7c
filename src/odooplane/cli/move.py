from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from odooplane.cli.output import console, err, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("move")
    def move(
        target: str = typer.Argument(..., help="tenant/env to move, e.g. acme/staging."),
        to: str = typer.Option(..., "--to", help="'dedicated', or 'shared:<pool>' (or just the pool's name)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                    "./estate.yaml; never the estate last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Move an environment between a shared pool and dedicated processes: edits the estate file, then
        applies it (copy database + filestore, switch the route, drop the old copy once the new one answers)."""
        from odooplane.actions import estate_file
        from odooplane.actions import move as action

        with errors():
            named = estate_file.named(estate, destructive="move")
        if not as_json:
            err.print(f"moving {target} of {named}", markup=False)
        with errors():
            outcome = action.run(named.path, target, to)
        if as_json:
            print_json({"estate": named.name, "estate_file": str(named.path),
                        "target": outcome.target, "file": outcome.file, "from": outcome.placement_before,
                        "to": outcome.placement_after, "ok": outcome.result.ok,
                        "downtime_s": outcome.move.downtime_s if outcome.move else None,
                        "failures": outcome.result.failures})
        else:
            if outcome.move:
                console.print(f"moved {outcome.target} of {escape(str(named))}: {outcome.placement_before} → "
                              f"{outcome.placement_after}; "
                              f"downtime {outcome.move.downtime_s:.2f} s ({outcome.file} updated)")
            for failure in outcome.result.failures:
                err.print("[bold red]error:[/] ", end="")
                err.print(failure, markup=False)
        if not outcome.result.ok:
            raise typer.Exit(ExitCode.FAILED)
