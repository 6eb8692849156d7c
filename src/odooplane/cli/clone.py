from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("clone")
    def clone(
        source: str = typer.Argument(..., help="The environment copied (tenant/env), e.g. acme/prod."),
        target: str = typer.Argument(..., help="The non-production environment replaced by the copy, e.g. "
                                               "acme/staging."),
        anonymize: bool = typer.Option(False, "--anonymize", help="Replace personal data of partners and users "
                                       "(always done for tenants with compliance: regulated)."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing the target's data."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                    "./estate.yaml; never the estate last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """A neutralized copy of SOURCE into TARGET: dump + filestore of the running source, the target's own
        identity, Odoo's neutralize, the platform's guarantees (mail only to the target's catcher, crons off,
        credentials revoked), optional anonymization, then a fail-closed check; only a copy that passes is
        swapped in and routed. On a kubernetes estate: a backup Job of the source, then the restore's Jobs
        with those steps on the copy (docs/kubernetes.md; needs a kubeconfig, exit 2 without one)."""
        from odooplane.actions import clone as action
        from odooplane.actions import estate_file

        with errors():
            named = estate_file.named(estate, destructive="clone")
        if not yes and not as_json and not typer.confirm(
                f"Replace the data of {target} of {named} with a copy of {source}?"):
            raise typer.Exit(ExitCode.FAILED)
        with errors():
            result = action.run(named.path, source, target, anonymize=anonymize)
        if as_json:
            print_json({**result.__dict__, "estate": named.name, "estate_file": str(named.path)})
            return
        neutralized = result.checks.get("neutralized") or {}
        changed = sum(v for v in neutralized.values() if isinstance(v, int)) if isinstance(neutralized, dict) else 0
        console.print(f"[green]cloned[/] {result.source} → {result.target} of {escape(str(named))} in "
                      f"{result.rto_s:.1f} s; neutralized "
                      f"({changed} rows changed) and verified; mail goes to the catcher on port "
                      f"{result.checks.get('mail_catcher_port')} (odooplane mail {result.target})")
        if result.checks.get("anonymized"):
            console.print(f"anonymized: {result.checks['anonymized']}")

    @app.command("mail")
    def mail(
        target: str = typer.Argument(..., help="A non-production environment (tenant/env)."),
        limit: int = typer.Option(20, "--lines", "-n", help="How many messages, newest first."),
        show: int = typer.Option(None, "--show", help="Print message N of the list (1 = newest) in full."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """The mail a non-production environment sent: caught by its mail catcher, delivered to nobody."""
        from odooplane.actions import clone as action

        with errors():
            found = action.messages(estate, target, limit=max(limit, show or 0))
        if show is not None:
            if not 1 <= show <= len(found):
                console.print(f"[red]no message {show}[/] ({len(found)} caught)")
                raise typer.Exit(ExitCode.NOT_FOUND)
            typer.echo(found[show - 1].path.read_text(errors="replace"))
            return
        found = found[:limit]
        if as_json:
            print_json([{"date": m.date.isoformat(), "from": m.sender, "to": list(m.recipients), "subject": m.subject,
                         "file": str(m.path)} for m in found])
            return
        table = Table()
        for column in ("#", "date", "from", "to", "subject"):
            table.add_column(column, overflow="fold")
        for i, m in enumerate(found, 1):
            table.add_row(str(i), m.date.strftime("%Y-%m-%d %H:%M:%S"), m.sender, ", ".join(m.recipients), m.subject)
        console.print(table)
        console.print(f"{len(found)} message(s) caught for {target}; none was delivered")
