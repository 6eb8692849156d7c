from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        target: str = typer.Argument(None, help="tenant/env or tenant (default: every environment)."),
        limit: int = typer.Option(50, "--lines", "-n", help="How many events, newest first."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Releases installed, upgrades and rollbacks (with durations and downtime), promotion requests,
        approvals and gate decisions — newest first."""
        from odooplane.actions import releases as action

        with errors():
            found = action.history(estate, target, limit=limit)
        if as_json:
            print_json([{**e.__dict__, "ts": e.ts.isoformat()} for e in found])
            return
        table = Table()
        for column in ("#", "when (UTC)", "environment", "what", "release", "status", "by", "duration", "downtime",
                       "detail"):
            table.add_column(column, overflow="fold")
        for e in found:
            release = f"{e.from_release} → {e.release}" if e.from_release and e.release else (e.release or "")
            detail = e.detail.get("error") or e.detail.get("reason") or ", ".join(e.detail.get("updated", []))
            table.add_row(str(e.id), e.ts.strftime("%Y-%m-%d %H:%M:%S"), e.target, e.kind, release, e.status, e.actor,
                          f"{e.duration_s:.1f} s" if e.duration_s is not None else "",
                          f"{e.downtime_s:.1f} s" if e.downtime_s is not None else "", str(detail or ""))
        console.print(table)
