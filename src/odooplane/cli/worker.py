from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        once: bool = typer.Option(False, "--once", help="One tick, then exit (for cron or tests)."),
        interval: float = typer.Option(30.0, "--interval", help="Seconds between ticks."),
        as_json: bool = typer.Option(False, "--json", help="With --once: print what was done as JSON."),
    ) -> None:
        """Run schedules: backups when due, restore verifications per policy, retention, log rotation.
        `apply` keeps it running under supervision when any environment has a backup policy."""
        from odooplane.worker import loop

        def report(result: object) -> None:
            if as_json:
                print_json(result.__dict__)

        with errors():
            code = loop.run(estate, once=once, interval=interval, report=report)
        raise typer.Exit(code)
