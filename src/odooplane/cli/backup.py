from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, err, errors, print_json, styled
from odooplane.errors import ExitCode

backup_app = typer.Typer(
    help="Back up environments, list backups, apply retention, check repositories.", no_args_is_help=True
)
ESTATE = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied).")


@backup_app.command("run")
def run(
    targets: list[str] = typer.Argument(None, help="tenant/env or tenant (default: every backed-up environment)."),
    repo: list[str] = typer.Option(None, "--repo", "-r", help="Repository (default: the policy's targets)."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Back up now: dump first, then the filestore, then a manifest; confirmed in every repository."""
    from odooplane.actions import backup as action

    with errors():
        result = action.run(estate, list(targets or []), repos=list(repo) if repo else None)
    if as_json:
        print_json(
            {
                "operation": result.operation_id,
                "failures": result.failures,
                "backups": [b.__dict__ for b in result.backups],
            }
        )
    else:
        for b in result.backups:
            snaps = ", ".join(f"{r}:{s}" for r, s in b.snapshots.items())
            console.print(
                f"[green]backed up[/] {b.target} ({b.bytes / 1048576:.1f} MiB, {b.duration_s:.1f} s): {snaps}"
            )
        for failure in result.failures:
            err.print("[bold red]error:[/] ", end="")
            err.print(failure, markup=False)
    if result.failures:
        raise typer.Exit(ExitCode.FAILED)


@backup_app.command("list")
def list_(
    targets: list[str] = typer.Argument(None, help="tenant/env or tenant (default: all)."),
    estate: Path = ESTATE,
    show_all: bool = typer.Option(False, "--all", help="Also snapshots whose backup never finished (unconfirmed)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Confirmed backups in the repositories, and whether each was proven to restore."""
    from odooplane.actions import backup as action

    with errors():
        items = action.list_backups(estate, list(targets or []), include_unconfirmed=show_all)
    if as_json:
        print_json([i.__dict__ for i in items])
        return
    table = Table()
    for column in ("environment", "repository", "snapshot", "time (UTC)", "kind", "restore verified"):
        table.add_column(column)
    for i in items:
        verified = "-" if i.verified is None else ("yes" if i.verified else "FAILED")
        table.add_row(
            i.target,
            i.repository,
            i.snapshot if i.confirmed else f"{i.snapshot} [yellow](unconfirmed)[/]",
            i.time[:19],
            i.kind,
            styled("ok") if i.verified else (styled("failed") if i.verified is False else verified),
        )
    console.print(table)


@backup_app.command("prune")
def prune(
    targets: list[str] = typer.Argument(None, help="tenant/env or tenant (default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be forgotten."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Apply the retention of each policy (never the newest, never the newest verified)."""
    from odooplane.actions import backup as action
    from odooplane.actions import estate_file

    with errors():
        if not dry_run:  # forgets backups: say which estate's
            named = estate_file.named(estate, destructive="backup prune")
            estate = named.path
            if not as_json:
                err.print(f"applying retention to the backups of {named}", markup=False)
        result = action.prune(estate, list(targets or []), dry_run=dry_run)
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "forgotten": result.forgotten,
                "decisions": {k: {"keep": d.keep, "forget": d.forget} for k, d in result.decisions.items()},
            }
        )
        return
    for key, decision in result.decisions.items():
        verb = "would forget" if dry_run else "forgot"
        console.print(
            f"{key}: keep {len(decision.keep)}, {verb} {len(decision.forget)}"
            + (f" ({', '.join(decision.forget)})" if decision.forget else "")
        )


@backup_app.command("check")
def check(
    repo: list[str] = typer.Option(None, "--repo", "-r", help="Repository (default: all)."),
    read_data: str = typer.Option("5%", "--read-data-subset", help="Share of the data to re-read ('0' for none)."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Check repository integrity (restic check, re-reading a share of the data). Exit 1 if damaged."""
    from odooplane.actions import backup as action

    with errors():
        results = action.check(
            estate, repos=list(repo) if repo else None, read_data_subset=None if read_data in ("0", "0%") else read_data
        )
    if as_json:
        print_json([r.__dict__ for r in results])
    else:
        for r in results:
            console.print(f"{r.repository}: {styled('ok') if r.ok else styled('failed')} — {r.output}", markup=True)
    if not all(r.ok for r in results):
        raise typer.Exit(ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
