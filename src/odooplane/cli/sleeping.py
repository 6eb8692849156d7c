from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from odooplane.cli.output import console, errors, print_json

schedule_app = typer.Typer(help="Non-production environments sleeping outside their hours (docs/cost.md"
                                "#sleeping-non-production).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")

    @app.command("wake")
    def wake(
        target: str = typer.Argument(..., help="tenant/env: a sleeping environment."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Wake an environment its schedule put to sleep, now, and keep it awake for the schedule's
        wake_minutes (a request through the edge does the same when the schedule wakes on request)."""
        from odooplane.actions import sleeping as action

        with errors():
            row = action.wake(estate, target)
        if as_json:
            print_json(asdict(row))
            return
        console.print(f"{row.target} is awake until {row.awake_until:%Y-%m-%d %H:%M} UTC" if row.awake_until
                      else f"{row.target} is awake", markup=False)


@schedule_app.command("status")
def status(
    estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Every scheduled environment: asleep or awake, since when, what its schedule wants now and when that
    changes, and a wake request in force."""
    from odooplane.actions import sleeping as action

    with errors():
        rows = action.status(estate)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table()
    for column in ("environment", "schedule", "state", "since (UTC)", "wanted now", "next change (UTC)",
                   "woken until (UTC)"):
        table.add_column(column)
    for r in rows:
        table.add_row(Text(r.target), Text(r.schedule), "asleep" if r.asleep else "awake",
                      f"{r.since:%Y-%m-%d %H:%M}" if r.since else "—", "awake" if r.awake_wanted else "asleep",
                      f"{r.next_change:%Y-%m-%d %H:%M}" if r.next_change else "—",
                      f"{r.awake_until:%Y-%m-%d %H:%M}" if r.awake_until else "—")
    console.print(table)
