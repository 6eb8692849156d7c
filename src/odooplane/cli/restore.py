from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from odooplane.cli.output import console, errors, print_json
from odooplane.errors import ExitCode


def register(app: typer.Typer) -> None:
    @app.command("restore")
    def restore(
        target: str = typer.Argument(..., help="The environment to restore into (tenant/env)."),
        source: str = typer.Option(None, "--from", help="Whose backup (tenant/env; default: the target's own)."),
        snapshot: str = typer.Option(None, "--snapshot", help="Snapshot id (default: the newest)."),
        at: str = typer.Option(None, "--at", help="The newest backup taken at or before this time (ISO, UTC default)."),
        repo: str = typer.Option(None, "--repo", "-r", help="Repository (default: the policy's first target)."),
        pitr: bool = typer.Option(False, "--pitr", help="Point in time from the cluster's WAL archive (pgBackRest)."),
        unconfirmed: bool = typer.Option(False, "--unconfirmed", help="Allow the --snapshot named even though its "
                                         "backup was never confirmed (it did not finish)."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before replacing an existing environment."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: $ODOOPLANE_ESTATE or "
                                    "./estate.yaml; never the estate last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Restore from a backup: loaded into a temporary database and checked first; the running environment is
        replaced (database and filestore swapped, restarted) only once the copy verifies."""
        from odooplane.actions import estate_file
        from odooplane.actions import restore as action

        with errors():
            named = estate_file.named(estate, destructive="restore")
        if not yes and not as_json and not typer.confirm(
                f"Replace {target} of {named} with a backup{' of ' + source if source else ''} if it exists?"):
            raise typer.Exit(ExitCode.FAILED)
        with errors():
            result = action.run(named.path, target, source=source, repository=repo, snapshot=snapshot, at=at,
                                pitr=pitr, unconfirmed=unconfirmed)
        if as_json:
            print_json({**result.__dict__, "estate": named.name, "estate_file": str(named.path)})
            return
        how = "in place" if result.in_place else "as a new environment"
        console.print(f"[green]restored[/] {result.target} of {escape(str(named))} {how} from {result.source} "
                      f"{result.snapshot} ({result.repository}) in {result.rto_s:.1f} s")
        pitr_info = result.checks.get("pitr")
        if isinstance(pitr_info, dict):
            console.print(f"point in time: requested {pitr_info.get('requested') or 'latest'}; newest restorable "
                          f"{pitr_info.get('newest_restorable')}")
