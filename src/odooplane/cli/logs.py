from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli import kubernetes
from odooplane.cli.output import errors, print_json
from odooplane.errors import KubernetesEstate


def register(app: typer.Typer) -> None:
    @app.command("logs")
    def logs(
        target: str = typer.Argument(..., help="tenant/env (e.g. acme/prod), or 'edge' for the whole access log."),
        estate: Path = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied)."),
        follow: bool = typer.Option(False, "--follow", help="Keep printing new lines (Ctrl-C to stop)."),
        since: str = typer.Option(None, "--since", help="Only lines newer than this (30s, 10m, 2h, 1d)."),
        level: str = typer.Option(None, "--level", help="Minimum level: debug, info, warning, error, critical."),
        grep: str = typer.Option(None, "--grep", help="Only lines containing this text."),
        request_id: str = typer.Option(None, "--request-id", help="Follow one request across the edge, Odoo and "
                                                                   "PostgreSQL (the TraceId of the access log)."),
        source: str = typer.Option(None, "--source", help="odoo, edge, postgres, comma-separated (default: odoo; "
                                                         "all three with --request-id)."),
        lines: int = typer.Option(100, "--lines", "-n", help="How many past lines (0: all)."),
        as_json: bool = typer.Option(False, "--json", help="Print the lines as JSON (no --follow)."),
    ) -> None:
        """Print an environment's logs: Odoo (a pooled environment's own lines), the edge's access log, its managed
        PostgreSQL's — merged in time order, each line tagged with its source when there are several."""
        from odooplane.actions import logs as action

        try:
            with errors(handled=(KubernetesEstate,)):
                query = action.LogQuery(since=action.parse_since(since) if since else None, level=level, grep=grep,
                                        request_id=request_id, lines=lines)
                files = action.run(estate, target, query, sources=source)
                found = action.read(files, query)
        except KubernetesEstate as exc:  # the pods' logs, through the API server
            kubernetes.logs_estate(exc.path, target, query, sources=source, follow=follow, as_json=as_json)
            return
        if as_json:
            print_json([{"source": ln.source, "at": ln.at.isoformat() if ln.at else None, "level": ln.level,
                         "line": ln.text} for ln in found])
            return
        tagged = len({f.name for f in files}) > 1

        def show(line: action.LogLine) -> None:
            typer.echo(f"[{line.source}] {line.text}" if tagged else line.text)

        for line in found:
            show(line)
        if follow:
            for line in action.follow(files, query):
                show(line)
