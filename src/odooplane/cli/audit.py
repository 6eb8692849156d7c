"""``odooplane audit``: the audit log, and the verification of its hash chain."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit(
        target: str = typer.Option(None, "--target", "-t", help="Only entries about this target (tenant/env, …)."),
        limit: int = typer.Option(50, "--limit", "-n", help="How many entries (newest first, at most 500)."),
        before: int = typer.Option(None, "--before", help="Entries older than this id (the next page)."),
        verify: bool = typer.Option(False, "--verify", help="Verify the hash chain instead: exit 1 if broken."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Who did what, when, with which outcome — every change, access decision and secret revealed."""
        from odooplane.actions import access as access_action
        from odooplane.actions import fleet

        with errors():
            ctx, me = access_action.cli_context(estate)
            try:
                if verify:
                    result = fleet.verify_audit(ctx, me)
                else:
                    page = fleet.audit_entries(ctx, me, before=before, target=target, limit=limit)
            finally:
                ctx.close()
        if verify:
            if as_json:
                print_json(result)
            elif result["intact"]:
                console.print(f"[green]intact[/]: {result['entries']} entries, head {result['head']}")
            else:
                console.print(f"[red]broken[/]: entries {result['bad_entries']} do not match their hash")
            raise typer.Exit(ExitCode.OK if result["intact"] else ExitCode.FAILED)
        if as_json:
            print_json({"items": [e.__dict__ for e in page.items], "next": page.next})
            return
        table = Table()
        for column in ("#", "time (UTC)", "actor", "action", "target", "outcome", "detail"):
            table.add_column(column, overflow="fold")
        for e in page.items:
            detail = ", ".join(f"{k}={v}" for k, v in (e.detail or {}).items())
            table.add_row(str(e.id), f"{e.ts:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target, e.outcome, detail)
        console.print(table)
        if page.next:
            console.print(f"older entries: --before {page.next}")
