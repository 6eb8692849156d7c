from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import errors


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        target: str = typer.Argument(..., help="tenant/env (e.g. acme/prod), or 'edge' for Traefik's access log."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        follow: bool = typer.Option(False, "--follow", help="Keep printing new lines (Ctrl-C to stop)."),
        since: str = typer.Option(None, "--since", help="Only lines newer than this (30s, 10m, 2h, 1d)."),
        level: str = typer.Option(None, "--level", help="Minimum level: debug, info, warning, error, critical."),
        grep: str = typer.Option(None, "--grep", help="Only lines containing this text."),
        lines: int = typer.Option(100, "--lines", "-n", help="How many past lines (0: all)."),
    ) -> None:
        """Print an environment's Odoo log."""
        from odooplane.actions import logs as action

        with errors():
            query = action.LogQuery(since=action.parse_since(since) if since else None, level=level, grep=grep,
                                    lines=lines)
            file = action.log_file(estate, target)
            for line in action.read(file, query):
                typer.echo(line)
            if follow:
                for line in action.follow(file, query):
                    typer.echo(line)
