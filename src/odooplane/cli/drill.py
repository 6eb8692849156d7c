from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("drill")
    def drill(
        targets: list[str] = typer.Argument(..., help="tenant/env or tenant."),
        to: str = typer.Option(None, "--to", help="DR target cluster (default: the environment's own)."),
        pitr: bool = typer.Option(False, "--pitr", help="Restore the newest point of the WAL archive (pgBackRest)."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """DR drill: restore the latest recoverable state onto a DR cluster, verify it, measure RPO/RTO against
        the objectives (per business process), record pass/fail evidence. Exit 1 if it fails."""
        from odooplane.actions import drill as action

        with errors():
            results = action.run(estate, list(targets), dr_cluster=to, pitr=pitr)
        if as_json:
            print_json([r.__dict__ for r in results])
        else:
            for r in results:
                verdict = "[green]PASSED[/]" if r.ok else "[bold red]FAILED[/]"
                console.print(f"{verdict} drill of {r.target} onto {r.dr_cluster}: RPO {r.rpo_s:.0f} s, "
                              f"RTO {r.rto_s:.1f} s ({r.source}) — evidence #{r.evidence_id}")
                for line in [*r.verdicts, *r.failures]:
                    console.print(f"  {line}", markup=False)
        if not all(r.ok for r in results):
            raise typer.Exit(ExitCode.FAILED)
