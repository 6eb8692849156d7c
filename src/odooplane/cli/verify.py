from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        targets: list[str] = typer.Argument(None, help="tenant/env or tenant (default: every backed-up environment)."),
        repo: str = typer.Option(None, "--repo", "-r", help="Repository (default: the policy's first target)."),
        snapshot: str = typer.Option(None, "--snapshot", help="Snapshot id (default: the newest)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Prove a backup restores: sandbox restore, artifact checksums, pg_restore stopping at the first error,
        row counts, attachments, modules, Odoo boot (on kubernetes: all but the boot, in a Job beside the database).
        Records evidence; exit 1 if it fails."""
        from odooplane.actions import verify as action

        with errors():
            results = action.run(estate, list(targets or []), repository=repo, snapshot=snapshot)
        if as_json:
            print_json([r.__dict__ for r in results])
        else:
            for r in results:
                verdict = "[green]verified[/]" if r.ok else "[bold red]FAILED[/]"
                console.print(f"{verdict} {r.target} snapshot {r.snapshot} ({r.repository}) in {r.rto_s:.1f} s"
                              f" — evidence #{r.evidence_id}")
                for failure in r.failures:
                    console.print(f"  {failure}", markup=False)
        if not all(r.ok for r in results):
            raise typer.Exit(ExitCode.FAILED)
